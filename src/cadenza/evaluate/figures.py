"""The report page: figures (matplotlib, embedded as PNG), tables, samples."""

from __future__ import annotations

import base64
import html
import io
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from cadenza.score import PITCH_NAMES, Score

STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:14px}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3} td:first-child,th:first-child{text-align:left}
.flag{color:#b00;font-weight:bold} section{margin-bottom:2.5em}
.sample{border:1px solid #ddd;padding:1em;margin:1em 0} .score svg{max-width:100%;height:auto}
"""


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return f'<img src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def curves_figure(run_path: Path) -> str:
    log = run_path / "log.csv"
    if not log.exists():
        return "<p>No training log in this run.</p>"
    from cadenza.train.logs import read_log

    rows = read_log(log)
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for key, label in (("train_loss", "train"), ("val_nats", "validation")):
        points = [(int(r["step"]), float(r[key])) for r in rows if r.get(key)]
        if points:
            ax.plot(*zip(*points), label=label)
    ax.set_xlabel("step")
    ax.set_ylabel("nats/token")
    ax.legend()
    ax.grid(alpha=0.3)
    return _png(fig)


def pitch_class_figure(histograms: dict[str, list[float]]) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3))
    x = np.arange(12)
    for offset, (name, values) in zip((-0.2, 0.2), histograms.items()):
        ax.bar(x + offset, values, width=0.4, label=name)
    ax.set_xticks(x, PITCH_NAMES)
    ax.set_ylabel("share of notes")
    ax.legend()
    return _png(fig)


def distributions_figure(metrics: dict[str, list[dict[str, float]]]) -> str:
    names = list(metrics["generated"][0]) if metrics["generated"] else []
    plt = _plt()
    cols = 4
    rows = max(1, -(-len(names) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(12, 2.4 * rows))
    for ax, name in zip(np.ravel(axes), names):
        for label in ("heldout", "generated"):
            values = [m[name] for m in metrics[label]]
            ax.hist(values, bins=15, alpha=0.55, density=True, label=label)
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in np.ravel(axes)[len(names):]:
        ax.axis("off")
    np.ravel(axes)[0].legend(fontsize=7)
    fig.tight_layout()
    return _png(fig)


def _table(header: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        return f"{v:.3f}" if isinstance(v, float) else html.escape(str(v))

    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def sample_block(score: Score, index: int, audio: bool, work: Path) -> str:
    from cadenza.generate.outputs import write_outputs

    formats = ("mid", "musicxml", "png") + (("wav",) if audio else ())
    written = write_outputs(score, work, f"sample-{index:02d}", formats)
    parts = [f"<h3>Sample {index}</h3>"]
    parts.append(f'<img src="data:image/png;base64,'
                 f'{base64.b64encode(written["png"].read_bytes()).decode()}" width="900">')
    if "wav" in written:
        data = base64.b64encode(written["wav"].read_bytes()).decode()
        parts.append(f'<p><audio controls src="data:audio/wav;base64,{data}"></audio></p>')
    parts.append(f'<div class="score">{engrave(written["musicxml"])}</div>')
    return '<div class="sample">' + "".join(parts) + "</div>"


def engrave(musicxml: Path) -> str:
    """The first page of the score as SVG (Verovio), or a note why not."""
    try:
        import verovio
    except ImportError:
        return "<p>(install verovio to see the engraved score)</p>"
    toolkit = verovio.toolkit()
    toolkit.setOptions({"pageWidth": 2100, "scale": 35, "adjustPageHeight": True,
                        "header": "none", "footer": "none"})
    if not toolkit.loadFile(str(musicxml)):
        return "<p>(the score could not be engraved)</p>"
    return toolkit.renderToSVG(1)


def render_html(numbers: dict[str, Any], material: dict[str, Any], run_path: Path,
                samples: int, audio: bool, out: Path) -> str:
    """The whole report page."""
    nll = numbers["test_nll"]
    comparison = numbers["set_comparison"]
    m = numbers["metrics"]
    metric_rows = [[name, m["generated"][name]["mean"], m["generated"][name]["std"],
                    m["heldout"][name]["mean"], m["heldout"][name]["std"],
                    m["train"][name]["mean"], m["train"][name]["std"]] for name in m["generated"]]
    gen_cmp, real_cmp = comparison["generated_vs_heldout"], comparison["heldout_vs_train"]
    cmp_rows = [[f, r["overlapping_area"], real_cmp[f]["overlapping_area"], r["distance_kl"],
                 r["intra_generated_mean"], r["intra_real_mean"], r["inter_mean"]]
                for f, r in gen_cmp.items()]
    vl = numbers["voice_leading"]  # None where the run writes no chorale voices
    vl_rows = [[k.replace("_per_100", ""), vl["generated"][k], vl["heldout"][k]]
               for k in vl["generated"]] if vl else []
    copying = numbers["copying"]
    copy_rows = [[i + 1, c["longest_run_frames"], c["longest_run_bars"], c["best_shift"],
                  c["ngram_share"], "COPY" if c["flagged"] else ""]
                 for i, c in enumerate(copying["pieces"])]
    with tempfile.TemporaryDirectory() as tmp:
        sample_html = "".join(sample_block(s, i + 1, audio, Path(tmp))
                              for i, s in enumerate(material["generated"][:samples]))
    sections = [
        ("Summary", _table(["measure", "value"], [
            ["run", numbers["run"]],
            ["test NLL (nats/token)", nll["nats"]], ["bits/token", nll["bits"]],
            *([["test NLL (nats/note)", nll["nats_per_note"]]] if "nats_per_note" in nll
              else []),
            ["perplexity", nll["perplexity"]], ["token accuracy", nll["accuracy"]],
            ["mean overlapping area, generated vs held-out", comparison["mean_overlap_generated"]],
            ["mean overlapping area, held-out vs train (real vs real)",
             comparison["mean_overlap_bach"]],
            [f"pieces copying more than {copying['max_bars']:g} bars", copying["flagged"]],
            ["generated / held-out / train pieces",
             " / ".join(str(v) for v in numbers["pieces"].values())],
        ])),
        ("Metrics (mean, std)", _table(["metric", "generated", "±", "held-out", "±",
                                        "train", "±"], metric_rows)),
        ("Set comparison (Yang & Lerch)", _table(
            ["feature", "OA gen/held-out", "OA held-out/train", "KL intra(real)‖inter",
             "intra gen", "intra real", "inter"], cmp_rows)),
        *([("Voice leading (per 100 frames)", _table(["check", "generated", "held-out"],
                                                     vl_rows))] if vl else []),
        ("Copy check", _table(["piece", "longest run (frames)", "bars", "shift",
                               "8-gram share", ""], copy_rows)),
        ("Training curves", curves_figure(run_path)),
        ("Pitch-class histograms", pitch_class_figure(numbers["pitch_class_histograms"])),
        ("Metric distributions", distributions_figure(material["metrics"])),
        ("Samples", sample_html),
    ]
    body = "".join(f'<section id="{html.escape(t.lower().split(" (")[0].replace(" ", "-"))}">'
                   f"<h2>{html.escape(t)}</h2>{content}</section>" for t, content in sections)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>cadenza report</title>"
            f"<style>{STYLE}</style></head><body><h1>cadenza report</h1>{body}</body></html>")
