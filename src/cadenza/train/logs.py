"""Training logs: ``log.csv``, TensorBoard event files in ``tb/``, and ``curves.png``."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

COLUMNS = ("step", "epoch", "lr", "train_loss", "val_nats", "val_accuracy", "tokens_per_s",
           "seconds")


class RunLog:
    """Appends rows to ``log.csv`` and scalars to TensorBoard; on resume, rows past the
    checkpoint's step (written after it by the interrupted process) are dropped."""

    def __init__(self, out: Path, resume_step: int | None = None, tensorboard: bool = True,
                 extra: list[str] | tuple[str, ...] = ()):
        self.path = out / "log.csv"
        # extra: an objective's own columns (per-head losses), after the common ones
        self.columns = (*COLUMNS, *extra)
        if resume_step is None or not self.path.exists():
            self.path.write_text(",".join(self.columns) + "\n")
        else:
            rows = [r for r in read_log(self.path) if int(r["step"]) <= resume_step]
            with self.path.open("w", newline="") as file:
                writer = csv.DictWriter(file, self.columns, extrasaction="ignore")
                writer.writeheader()
                writer.writerows(rows)
        self.writer = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            purge = None if resume_step is None else resume_step + 1
            self.writer = SummaryWriter(str(out / "tb"), purge_step=purge)

    def write(self, row: dict[str, Any]) -> None:
        """One row (missing columns stay empty); numbers also go to TensorBoard."""
        with self.path.open("a", newline="") as file:
            csv.DictWriter(file, self.columns).writerow(
                {k: row.get(k, "") for k in self.columns})
        if self.writer is not None:
            for key in ("lr", "train_loss", "val_nats", "val_accuracy", "tokens_per_s",
                        *self.columns[len(COLUMNS):]):
                if row.get(key) is not None:
                    self.writer.add_scalar(key, row[key], row["step"])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def read_log(path: Path) -> list[dict[str, str]]:
    """The rows of a log; a last row without its newline (a process killed while
    writing it) is left out."""
    text = path.read_text()
    if text and not text.endswith("\n"):
        text = text[:text.rfind("\n") + 1]
    return list(csv.DictReader(io.StringIO(text, newline="")))


def run_timing(path: Path) -> dict[str, float | None]:
    """From a run's ``log.csv``: the training wall time in seconds over every session
    (a resumed session's clock starts again at zero) and the median throughput, in the
    objective's units (tokens, frames, hidden tokens) per second, of its log rows."""
    total, last, rates = 0.0, 0.0, []
    for row in read_log(path) if path.is_file() else []:
        if row.get("seconds"):
            seconds = float(row["seconds"])
            if seconds < last:  # a new session
                total += last
            last = seconds
        if row.get("tokens_per_s"):
            rates.append(float(row["tokens_per_s"]))
    rates.sort()
    middle = len(rates) // 2
    median = (rates[middle] if len(rates) % 2 else (rates[middle - 1] + rates[middle]) / 2
              ) if rates else None
    return {"wall_s": total + last if rates else None, "units_per_s": median}


def plot_curves(log_path: Path, out: Path) -> None:
    """Training and validation loss against the step, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_log(log_path)
    heads = sorted({k[4:] for k in (rows[0] if rows else {}) if k.startswith("val_")}
                   - {"nats", "accuracy"})
    if heads:  # an objective with per-head losses: a second panel draws them
        fig, (ax, side) = plt.subplots(1, 2, figsize=(12, 4), dpi=100)
        _head_panel(side, rows, heads)
    else:
        fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    for key, label in (("train_loss", "train"), ("val_nats", "validation")):
        points = [(int(r["step"]), float(r[key])) for r in rows if r[key]]
        if points:
            ax.plot(*zip(*points), label=label, marker="o" if label == "validation" else None,
                    markersize=3)
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats/token)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def _head_panel(ax: Any, rows: list[dict[str, str]], heads: list[str]) -> None:
    """Each head's training (line) and validation (dots) loss against the step."""
    for index, head in enumerate(heads):
        color = f"C{index % 10}"
        for key, style in ((f"train_{head}", "-"), (f"val_{head}", "o")):
            points = [(int(r["step"]), float(r[key])) for r in rows if r.get(key)]
            if points:
                ax.plot(*zip(*points), style, color=color, markersize=3,
                        label=head if style == "-" else None)
    ax.set_xlabel("step")
    ax.set_ylabel("loss per head (per note)")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
