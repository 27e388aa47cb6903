"""The study's outputs: ``results.json`` (every run's numbers and their summary over
seeds) and ``report.html`` with its figure ``nll_vs_params.png``.

An autoregressive NLL (track a) and a masked model's pseudo-log-likelihood stand in
separate columns; infilling (track c) is the one measure all models share, computed
exactly for autoregressive models and by the masked model's own conditional.
"""

from __future__ import annotations

import html
import json
import math
import statistics
from pathlib import Path
from typing import Any

from cadenza.safety import write_text

MEASURES = ("nll", "pseudo_nll", "infill_nats", "infill_accuracy", "wall_s", "units_per_s",
            "steps")
LABELS = {"nll": "test NLL (nats/token, AR)", "pseudo_nll": "test pseudo-NLL (masked)",
          "infill_nats": "infill -log p(x_i|rest)", "infill_accuracy": "infill accuracy",
          "wall_s": "wall time (s)", "units_per_s": "throughput (units/s)", "steps": "steps"}


def mean_sd(values: list[float]) -> dict[str, Any] | None:
    """Mean and sample standard deviation (0 for one value) of the numbers given."""
    values = [v for v in values if v is not None and math.isfinite(v)]
    if not values:
        return None
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return {"mean": statistics.fmean(values), "sd": sd, "n": len(values)}


def summarise(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (dataset, sequence length, model): every measure over its seeds."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault((record["dataset"], record["seq_len"], record["model"]),
                          []).append(record)
    rows = []
    for (dataset, seq_len, model), runs in groups.items():
        keys = [*MEASURES, *_per_primer(runs[0])]
        rows.append({"dataset": dataset, "seq_len": seq_len, "model": model,
                     "name": runs[0]["name"], "contract": runs[0]["contract"],
                     "params": runs[0]["params"], "seeds": [r["seed"] for r in runs],
                     "infill_conditional": runs[0]["infill_conditional"],
                     **{k: mean_sd([r[k] for r in runs]) for k in keys}})
    return rows


PER_PRIMER = {"continuation_nll_k": "continuation NLL, k=", "overlap_k": "music overlap, k=",
              "decoded_k": "decodable share, k="}


def _per_primer(row: dict[str, Any]) -> list[str]:
    """Track (b)'s keys of a record or summary row, by measure then primer length."""
    return [k for prefix in PER_PRIMER for k in sorted(
        (k for k in row if k.startswith(prefix)), key=lambda k: int(k[len(prefix):]))]


def _label(key: str) -> str:
    for prefix, label in PER_PRIMER.items():
        if key.startswith(prefix):
            return label + key[len(prefix):]
    return LABELS.get(key, key)


HIGHER_IS_BETTER = ("infill_accuracy", "overlap_k")


def ranked_measures(row: dict[str, Any]) -> list[str]:
    """The measures a model is ranked on: the likelihoods (lower is better), infilling
    accuracy and the music overlap of continuations (higher is better)."""
    per_primer = [k for k in _per_primer(row) if not k.startswith("decoded_k")]
    return ["nll", "infill_nats", "infill_accuracy", *per_primer]


def _higher_is_better(key: str) -> bool:
    return key.startswith(HIGHER_IS_BETTER)


def ranking(summary: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per dataset, window length and measure: the models from best to worst, and for
    each pair whether the gap between their means is larger than the seed-to-seed
    spread (the sum of their s.d.s: their mean ± s.d. intervals do not overlap);
    ``clear`` is None with fewer than two seeds."""
    out = []
    for cell in sorted({(r["dataset"], r["seq_len"]) for r in summary}):
        rows = [r for r in summary if (r["dataset"], r["seq_len"]) == cell]
        for key in ranked_measures(rows[0]):
            sign = -1 if _higher_is_better(key) else 1
            scored = sorted((r for r in rows if r.get(key) is not None),
                            key=lambda r: sign * r[key]["mean"])
            pairs = []
            for i, a in enumerate(scored):
                for b in scored[i + 1:]:
                    gap = sign * (b[key]["mean"] - a[key]["mean"])
                    spread = a[key]["sd"] + b[key]["sd"]
                    seeds = min(a[key]["n"], b[key]["n"])
                    pairs.append({"better": a["model"], "worse": b["model"], "gap": gap,
                                  "spread": spread,
                                  "clear": gap > spread if seeds > 1 else None})
            out.append({"dataset": cell[0], "seq_len": cell[1], "measure": key,
                        "order": [r["model"] for r in scored], "pairs": pairs})
    return out


def across_music(ranks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Does the ranking depend on the music? Per window length and measure, each
    dataset's order and whether they agree on the models they share (only where two or
    more datasets have the measure)."""
    cells: dict[tuple, dict[str, list[str]]] = {}
    for rank in ranks:
        if len(rank["order"]) > 1:
            cells.setdefault((rank["seq_len"], rank["measure"]), {})[rank["dataset"]] = \
                rank["order"]
    out = []
    for (seq_len, measure), orders in sorted(cells.items()):
        if len(orders) < 2:
            continue
        shared = set.intersection(*(set(o) for o in orders.values()))
        same = len({tuple(m for m in o if m in shared) for o in orders.values()}) == 1
        out.append({"seq_len": seq_len, "measure": measure, "orders": orders, "same": same})
    return out


def write_results(out: Path, study: dict[str, Any], records: list[dict[str, Any]],
                  listen: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """``results.json``, ``nll_vs_params.png`` and ``report.html`` in ``out``."""
    summary = summarise(records)
    ranks = ranking(summary)
    music = across_music(ranks)
    results = {"study": study, "runs": records, "summary": summary, "ranking": ranks,
               "across_music": music}
    write_text(out / "results.json", json.dumps(results, indent=1))
    plot_nll_vs_params(summary, out / "nll_vs_params.png")
    plot_against(summary, "wall_s", out / "nll_vs_wall_time.png")
    plot_by_window(summary, out / "by_window.png")
    primers = sorted(int(k[len("music_k"):]) for k in (records[0] if records else {})
                     if k.startswith("music_k"))
    overlaps = bool(primers) and plot_overlaps(records, primers[0], out / "overlaps.png")
    head = study.get("study", {})
    write_text(out / "report.html", render_html(head.get("name", "study"), summary, ranks,
                                                listen, overlaps, music, head))
    return results


def plot_nll_vs_params(summary: list[dict[str, Any]], path: Path) -> None:
    """Test NLL (autoregressive) and infilling NLL (all) against parameters, one point
    per model with its seed-to-seed s.d. as the error bar."""
    plot_against(summary, "params", path)


def _colours(summary: list[dict[str, Any]]) -> dict[str, str]:
    """One colour a model, the same in every panel and figure (models in sorted order)."""
    return {m: f"C{i}" for i, m in enumerate(sorted({r["model"] for r in summary}))}


def plot_against(summary: list[dict[str, Any]], x: str, path: Path) -> None:
    """Test NLL and infilling NLL against ``x`` (``params``, or the mean ``wall_s``):
    one row of panels per dataset (their scales differ), one colour per model, each
    point labelled with its window length and drawn with its seed-to-seed s.d."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = sorted({r["dataset"] for r in summary})
    colour = _colours(summary)
    name = "parameters" if x == "params" else LABELS[x]
    fig, axes = plt.subplots(len(datasets), 2, figsize=(10, 3.6 * len(datasets)),
                             squeeze=False)
    for row_axes, dataset in zip(axes, datasets):
        for ax, key in zip(row_axes, ("nll", "infill_nats")):
            for row in summary:
                value = row[key]
                if row["dataset"] != dataset or value is None:
                    continue
                where = row[x] if x == "params" else row[x]["mean"]
                ax.errorbar(where, value["mean"], yerr=value["sd"], fmt="o", capsize=3,
                            color=colour[row["model"]], label=row["model"])
                ax.annotate(str(row["seq_len"]), (where, value["mean"]), fontsize=6,
                            xytext=(4, 2), textcoords="offset points")
            ax.set_xlabel(name)
            ax.set_ylabel(LABELS[key], fontsize=8)
            ax.set_title(f"{dataset}: {LABELS[key]} vs {name} (label: window)", fontsize=9)
            handles, labels = ax.get_legend_handles_labels()
            unique = dict(zip(labels, handles))
            if unique:
                ax.legend(unique.values(), unique.keys(), fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_by_window(summary: list[dict[str, Any]], path: Path) -> None:
    """Track (d): each measure against the training window length, one line per model
    with its seed-to-seed s.d., one row of panels per dataset."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = sorted({r["dataset"] for r in summary})
    keys = [k for k in ranked_measures(summary[0]) if k != "infill_accuracy"] if summary else []
    keys = [k for k in keys if not k.startswith("continuation_nll_k")] + \
        [k for k in keys if k.startswith("continuation_nll_k")][-1:]
    fig, axes = plt.subplots(len(datasets), len(keys), figsize=(3.6 * len(keys),
                             3.2 * len(datasets)), squeeze=False)
    colour = _colours(summary)
    lengths = sorted({r["seq_len"] for r in summary})
    for row_axes, dataset in zip(axes, datasets):
        rows = [r for r in summary if r["dataset"] == dataset]
        for ax, key in zip(row_axes, keys):
            for model in colour:
                points = sorted((r["seq_len"], r[key]) for r in rows
                                if r["model"] == model and r.get(key) is not None)
                if points:
                    ax.errorbar([x for x, _ in points], [v["mean"] for _, v in points],
                                yerr=[v["sd"] for _, v in points], marker="o", capsize=3,
                                label=model, color=colour[model])
            ax.set_xscale("log")
            ax.set_xticks(lengths, [str(n) for n in lengths])
            ax.minorticks_off()
            ax.set_xlabel("training window (tokens)")
            ax.set_title(f"{dataset}: {_label(key)}", fontsize=9)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_overlaps(records: list[dict[str, Any]], primer: int, path: Path) -> bool:
    """Per feature, the overlapping area of each model's sampled continuations (after
    ``primer`` tokens) with the true ones, mean over seeds, one panel per dataset and
    window length; False (nothing drawn) when no model's samples decoded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    cells: dict[tuple, dict[str, list[dict[str, float]]]] = {}
    for r in records:
        overlap = (r.get(f"music_k{primer}") or {}).get("overlap")
        if overlap:
            cells.setdefault((r["dataset"], r["seq_len"]), {}).setdefault(
                r["model"], []).append(overlap)
    if not cells:
        return False
    fig, axes = plt.subplots(len(cells), 1, figsize=(12, 3.5 * len(cells)), squeeze=False)
    for ax, ((dataset, seq_len), models) in zip(axes[:, 0], sorted(cells.items())):
        features = sorted({f for runs in models.values() for o in runs for f in o})
        width = 0.8 / len(models)
        for i, (model, runs) in enumerate(sorted(models.items())):
            means = [statistics.fmean(o[f] for o in runs if f in o) for f in features]
            ax.bar(np.arange(len(features)) + i * width, means, width, label=model)
        ax.set_xticks(np.arange(len(features)) + 0.4 - width / 2, features, rotation=30,
                      ha="right", fontsize=7)
        ax.set_ylabel("overlapping area")
        ax.set_title(f"{dataset}, windows of {seq_len}: continuations after {primer} tokens")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def _cell(value: dict[str, Any] | None) -> str:
    if value is None:
        return "—"
    return f"{value['mean']:.4g} ± {value['sd']:.2g}"


def _pair(pair: dict[str, Any]) -> str:
    verdict = {True: "larger than the seed-to-seed spread", False: "within the spread",
               None: "one seed: no spread"}[pair["clear"]]
    return (f"{html.escape(pair['better'])} vs {html.escape(pair['worse'])}: "
            f"{pair['gap']:.3g} ({verdict}, {pair['spread']:.2g})")


def _settings(head: dict[str, Any]) -> str:
    """The study's budget in one line, as its TOML says it."""
    said = {"seeds": "seeds", "params": "parameters each", "tolerance": "tolerance",
            "tokens": "training tokens a run", "search_trials": "search trials a model",
            "seq_lens": "windows", "primers": "primers"}
    return "; ".join(f"{said[k]} {head[k]}" for k in said if k in head)


def render_html(name: str, summary: list[dict[str, Any]],
                ranks: list[dict[str, Any]] | None = None,
                listen: list[dict[str, Any]] | None = None, overlaps: bool = False,
                music: list[dict[str, Any]] | None = None,
                settings: dict[str, Any] | None = None) -> str:
    """Tables of mean ± s.d. over seeds, one per dataset and sequence length."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(name)}"
             "</title><style>table{border-collapse:collapse}td,th{border:1px solid #999;"
             "padding:3px 6px;text-align:right}</style></head><body>",
             f"<h1>{html.escape(name)}</h1>",
             "<p>Mean ± s.d. over seeds. The autoregressive NLL and the masked model's "
             "pseudo-NLL are different quantities and stand in different columns. "
             "Infilling is exact for autoregressive models (enumerating x<sub>i</sub>) and "
             "the masked model's own conditional otherwise. Music overlap: the mean "
             "overlapping area, over the features of cadenza.evaluate.metrics, of sampled "
             "continuations against the true ones (autoregressive models sample under the "
             "codec's grammar; the masked model's Gibbs samples have none, and only "
             "the decodable share counts). A model with a bounded context (the "
             "transformer) has its training window as its context and slides it over "
             "anything longer. Wall time: training, over all sessions of a run.</p>",
             *([f"<p>Settings: {html.escape(_settings(settings))}.</p>"] if settings else []),
             "<img src='nll_vs_params.png' alt='NLL vs parameters'>",
             "<img src='nll_vs_wall_time.png' alt='NLL vs wall time'>",
             "<h2>Window length (track d)</h2><img src='by_window.png' "
             "alt='every measure against the training window length'>"]
    if overlaps:
        parts.append("<img src='overlaps.png' alt='overlapping area per feature'>")
    cells = sorted({(r["dataset"], r["seq_len"]) for r in summary})
    for dataset, seq_len in cells:
        rows = [r for r in summary if (r["dataset"], r["seq_len"]) == (dataset, seq_len)]
        keys = [*MEASURES, *_per_primer(rows[0])]
        head = "".join(f"<th>{html.escape(_label(k))}</th>" for k in keys)
        parts.append(f"<h2>{html.escape(dataset)}, windows of {seq_len}</h2><table><tr>"
                     f"<th>model</th><th>params</th><th>seeds</th>{head}</tr>")
        for r in rows:
            values = "".join(f"<td>{_cell(r[k])}</td>" for k in keys)
            parts.append(f"<tr><th>{html.escape(r['model'])} ({html.escape(r['name'])})</th>"
                         f"<td>{r['params']}</td><td>{len(r['seeds'])}</td>{values}</tr>")
        parts.append("</table>")
        for rank in ranks or ():
            if (rank["dataset"], rank["seq_len"]) == (dataset, seq_len) and rank["pairs"]:
                parts.append(f"<p><b>{html.escape(_label(rank['measure']))}</b>, best "
                             f"first: {', '.join(map(html.escape, rank['order']))}. "
                             + "; ".join(_pair(p) for p in rank["pairs"]) + ".</p>")
    if music:
        parts.append("<h2>Does the ranking depend on the music?</h2><table><tr><th>window"
                     "</th><th>measure</th><th>orders, best first</th><th>same?</th></tr>")
        for entry in music:
            orders = "; ".join(f"{html.escape(d)}: {', '.join(map(html.escape, o))}"
                               for d, o in entry["orders"].items())
            parts.append(f"<tr><td>{entry['seq_len']}</td><td>{html.escape(_label(entry['measure']))}"
                         f"</td><td style='text-align:left'>{orders}</td>"
                         f"<td>{'same' if entry['same'] else 'differs'}</td></tr>")
        parts.append("</table>")
    if listen:
        parts.append("<h2>Each model's continuation of the same primer</h2>")
    for entry in listen or ():
        parts.append(f"<h3>{html.escape(entry['title'])}</h3>")
        if entry["png"] is None:
            parts.append(f"<p>{html.escape(entry.get('error', 'nothing decoded'))}</p>")
            continue
        parts.append(f"<img src='{entry['png']}' alt='{html.escape(entry['title'])}'>")
        if entry["wav"] is not None:
            parts.append(f"<audio controls src='{entry['wav']}'></audio>")
        parts.append(f"<a href='{entry['mid']}'>MIDI</a>")
    parts.append("</body></html>")
    return "\n".join(parts)
