"""Training speed: the full cadenza loop against a bare nn.LSTM + Adam loop.

Both train the preset's model at the preset's shapes, with the hidden state carried
across windows, on the same CPU threads, in the same process, alternating repetitions so
that machine load hits both alike:

- ``--preset bachbot``: BachBot's 3 x 256 LSTM over 32-dim token embeddings, batches of
  50 x 128 tokens, cross-entropy (a chorale dataset);
- ``--preset pianoroll-lstm``: the report's 2 x 1,024 LSTM over 88-pitch frames, batches
  of 32 x 100 frames, binary cross-entropy per pitch (a piano-roll dataset);
- ``--preset notes`` / ``notes-tutorial``: the six-head note LSTM over note feature
  codes (a ``notes`` dataset); the bare loop embeds (or scales) the six codes, runs the
  same LSTM and one linear layer for all heads, and sums the six losses (cross-entropy,
  or MSE with positive pressure for the tutorial's regression heads).

Throughput is in positions per second (batch x seq_len per step, the same shapes for
both); the cadenza loop also reports the share of positions that are padding (the
price of starting every piece on a fresh state). Peak RSS is the process's maximum.

    python benchmarks/bench_train_speed.py --data /tmp/ds1 [--reps 5] [--steps 40]
    python benchmarks/bench_train_speed.py --preset pianoroll-lstm --data data/piano-midi
    python benchmarks/bench_train_speed.py --preset notes --data data/piano-notes --threads 1
    python benchmarks/bench_train_speed.py --preset notes-tutorial --data data/piano-notes \
        --threads 1 --bare-data real    # the bare loop reads batches as the loop does
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from cadenza.data.dataset import PreparedDataset
from cadenza.train.config import apply_overrides, load_preset
from cadenza.train.loop import train

LOG_EVERY = 5


def cadenza_rate(preset: str, data: str, steps: int, threads: int,
                 seed: int) -> tuple[float, float]:
    """Median positions/s over log intervals (after the first) and the scored share."""
    config = load_preset(preset)
    config.data = data
    config = apply_overrides(config, [
        f"train.max_steps={steps}", f"train.threads={threads}", "train.device=cpu",
        f"train.log_every={LOG_EVERY}", "train.eval_every=1000000", "train.epochs=1000",
        "train.progress=false", f"train.seed={seed}"])
    t = config.train
    stamps: list[float] = []
    scored: list[float] = []

    def hook(metrics: dict) -> None:
        if "train_loss" in metrics:
            stamps.append(time.perf_counter())
            scored.append(metrics["tokens_per_s"])

    with tempfile.TemporaryDirectory() as out:
        train(config, Path(out) / "run", hooks=[hook])
    positions = LOG_EVERY * t.batch_size * t.seq_len
    rates = [positions / (b - a) for a, b in zip(stamps[1:], stamps[2:])]
    share = statistics.median(s / r for s, r in zip(scored[2:], rates))
    return statistics.median(rates), share


def bare_rate(preset: str, size: int, steps: int, threads: int, seed: int) -> float:
    """Median positions/s of a plain nn.LSTM + Linear loop with Adam at the preset's
    shapes: token embeddings and cross-entropy, or frames and per-pitch BCE."""
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    config = load_preset(preset)
    m, t = config.model.options, config.train
    if config.model.name == "note-rnn":
        return bare_notes_rate(config, steps, BARE_DATA.get("dataset"))
    frames = config.model.name == "frame-rnn"
    width = size if frames else m["embedding"]
    embed = nn.Identity() if frames else nn.Embedding(size, width)
    lstm = nn.LSTM(width, m["hidden"], m["layers"], dropout=m["dropout"], batch_first=True)
    head, drop = nn.Linear(m["hidden"], size), nn.Dropout(m["dropout"])
    params = [*embed.parameters(), *lstm.parameters(), *head.parameters()]
    optimizer = torch.optim.Adam(params, lr=t.lr, fused=True)
    shape = (t.batch_size, t.seq_len + 1)
    data = (torch.rand(*shape, size) < 0.04).float() if frames else torch.randint(1, size, shape)
    state, times = None, []
    for _ in range(steps):
        start = time.perf_counter()
        out, state = lstm(embed(data[:, :-1]), state)
        logits = head(drop(out))
        if frames:
            loss = F.binary_cross_entropy_with_logits(logits, data[:, 1:])
        else:
            loss = F.cross_entropy(logits.flatten(0, 1), data[:, 1:].flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        state = tuple(s.detach() for s in state)
        loss.item()
        times.append(time.perf_counter() - start)
    return t.batch_size * t.seq_len / statistics.median(times[2:])


BARE_DATA: dict = {}  # --bare-data real: the dataset whose windows the bare loop reads


def bare_notes_rate(config, steps: int, dataset=None) -> float:
    """Median positions/s of a plain six-head LSTM loop at the preset's shapes, on one
    random batch, or (``dataset``) on the dataset's own windows, read each step."""
    from cadenza.models.note_rnn import REGRESSED, feature_classes

    m, t = config.model.options, config.train
    classes = feature_classes(m["time_classes"])
    tutorial, embedded = m["heads"] == "tutorial", m["input"] == "embed"
    sizes = [1 if tutorial and i in REGRESSED else n for i, n in enumerate(classes)]
    embeds = nn.ModuleList(nn.Embedding(n, m["embedding"]) for n in classes)
    width = m["embedding"] * len(classes) if embedded else len(classes)
    lstm = nn.LSTM(width, m["hidden"], m["layers"], batch_first=True,
                   dropout=m["dropout"] if m["layers"] > 1 else 0.0)
    head, drop = nn.Linear(m["hidden"], sum(sizes)), nn.Dropout(m["dropout"])
    params = [*embeds.parameters(), *lstm.parameters(), *head.parameters()]
    optimizer = torch.optim.Adam(params, lr=t.lr, fused=True)
    shape = (t.batch_size, t.seq_len + 1)
    data = torch.stack([torch.randint(0, n, shape) for n in classes], -1)
    scale = 1.0 / torch.tensor(classes, dtype=torch.float)
    windows = None
    if dataset is not None:
        from cadenza.data.windows import make_windows

        windows = make_windows(dataset, "train", t.batch_size, t.seq_len, 0, t.tbptt,
                               t.start_fraction)
    state, times = None, []
    for step in range(steps):
        start = time.perf_counter()
        if windows is not None:
            batch = windows.batch(0, step % windows.windows_per_epoch)
            data = torch.cat([batch.inputs[:, :1], batch.targets], 1).long()
        x = data[:, :-1]
        x = (torch.cat([e(x[..., i]) for i, e in enumerate(embeds)], -1) if embedded
             else x.float() * scale)
        out, state = lstm(x, state)
        heads = head(drop(out)).split(sizes, -1)
        loss = 0.0
        for i, (h, size) in enumerate(zip(heads, sizes)):
            y = data[:, 1:, i]
            if size == 1:
                loss = loss + ((y.float() - h[..., 0]) ** 2
                               + 10 * torch.clamp(-h[..., 0], min=0)).mean()
            else:
                loss = loss + F.cross_entropy(h.flatten(0, 1), y.flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if t.tbptt:
            state = tuple(s.detach() for s in state)
        else:
            state = None
        loss.item()
        times.append(time.perf_counter() - start)
    return t.batch_size * t.seq_len / statistics.median(times[2:])


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="bachbot",
                        choices=("bachbot", "pianoroll-lstm", "notes", "notes-tutorial"))
    parser.add_argument("--data", default="/tmp/ds1",
                        help="prepared dataset (chorales, or piano rolls for pianoroll-lstm)")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--steps", type=int, default=40, help="optimizer steps a repetition")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--bare-data", choices=("random", "real"), default="random",
                        help="note presets: the bare loop trains on one random batch, or "
                             "reads the dataset's own windows every step (real)")
    args = parser.parse_args()
    dataset = PreparedDataset(args.data)
    if args.bare_data == "real":
        BARE_DATA["dataset"] = dataset
    size = len(dataset.vocab) if dataset.main.kind == "tokens" else dataset.main.shape[0]
    bare, ours, shares, rss = [], [], [], {}
    for rep in range(args.reps):
        bare.append(bare_rate(args.preset, size, args.steps, args.threads, rep))
        rss["bare"] = peak_rss_mib()
        rate, share = cadenza_rate(args.preset, args.data, args.steps, args.threads, rep)
        ours.append(rate)
        shares.append(share)
        rss["cadenza"] = peak_rss_mib()
        print(f"rep {rep + 1}/{args.reps}: bare {bare[-1]:,.0f}  cadenza {rate:,.0f} positions/s")
    b, c = statistics.median(bare), statistics.median(ours)
    t = load_preset(args.preset).train
    positions = t.batch_size * t.seq_len
    print(f"\npreset {args.preset}, batch {t.batch_size} x {t.seq_len}, {args.threads} threads, "
          f"median of {args.reps} reps x {args.steps} steps")
    print(f"{'loop':<22}{'positions/s':>14}{'ms/step':>10}{'peak RSS MiB':>15}")
    print(f"{'bare nn.LSTM + Adam':<22}{b:>14,.0f}{positions * 1e3 / b:>10.1f}"
          f"{rss['bare']:>15.0f}")
    print(f"{'cadenza train()':<22}{c:>14,.0f}{positions * 1e3 / c:>10.1f}"
          f"{rss['cadenza']:>15.0f}")
    print(f"ratio cadenza / bare: {c / b:.3f} (target >= 0.9); scored (non-padding) share of "
          f"cadenza positions: {statistics.median(shares):.3f}")


if __name__ == "__main__":
    main()
