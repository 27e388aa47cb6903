"""``cadenza report``: judge a run next to real music, as numbers (JSON) and a page (HTML).

The page holds every section of the JSON: test NLL, metrics of the generated pieces
beside held-out and training Bach, Yang & Lerch set comparison, voice leading, the
copy check, training curves, pitch-class histograms, metric distributions, and a
few samples with piano roll, audio and engraved score. It is one file: figures and
audio are embedded.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from cadenza.data.dataset import PreparedDataset
from cadenza.data.recipe import run_dataset
from cadenza.errors import CadenzaError
from cadenza.evaluate import figures
from cadenza.evaluate.copying import CopyDetector
from cadenza.evaluate.distances import compare_sets, mean_overlap
from cadenza.evaluate.metrics import compute_all, pitch_class_histogram
from cadenza.evaluate.voiceleading import CHECKS, voice_leading
from cadenza.generate.settings import SamplingSettings, load_sampling
from cadenza.score import Score


def decode_pieces(dataset: PreparedDataset, split: str) -> list[Score]:
    """The untransposed pieces of a split as Scores."""
    return [dataset.codec.decode(dataset.vocab.decode(dataset.tokens(i)))
            for i in dataset.indices(split, augmented=False)]


EVENT_BARS = 8  # the length of a generated piece of event tokens (no END of its own)


def generate_scores(run: Any, n: int, sampling: SamplingSettings, seed: int) -> list[Score]:
    from cadenza.generate import sample

    if run.codec.name == "miditok":  # event tokens: pieces of EVENT_BARS bars
        from cadenza.generate.event_tokens import generate_events

        return generate_events(run, n, sampling.processors(run.vocab), EVENT_BARS, seed=seed)
    ids = sample(run.model, run.vocab, n=n, processors=sampling.processors(run.vocab), seed=seed)
    return [run.codec.decode(run.vocab.decode(row)) for row in ids]


def summarize(values: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    keys = values[0].keys() if values else []
    return {k: {"mean": float(np.mean([v[k] for v in values])),
                "std": float(np.std([v[k] for v in values]))} for k in keys}


def voice_leading_rates(scores: list[Score]) -> dict[str, float]:
    totals = {c: 0.0 for c in CHECKS}
    frames = 0.0
    for score in scores:
        counts = voice_leading(score)
        frames += counts["frames"]
        for c in CHECKS:
            totals[c] += counts[c]
    return {f"{c}_per_100": 100 * totals[c] / max(frames, 1) for c in CHECKS}


def build_report(run: Any, dataset: PreparedDataset, n: int = 64,
                 sampling: SamplingSettings | None = None, seed: int = 0,
                 max_bars: float = 4.0) -> tuple[dict[str, Any], dict[str, Any]]:
    """Every number of the report, and the material for the page (scores, paths).
    ``sampling`` defaults to the run's own settings (its sampling.json)."""
    from cadenza.evaluate.likelihood import evaluate_nll

    started = time.perf_counter()
    sampling = sampling or load_sampling(run.path)
    # voice leading and the by-part copy check read four chorale voices: chorale runs only
    chorale = run.codec.name == "chorale"
    nll = evaluate_nll(run.model, dataset, "test", augmented=False)
    if hasattr(run.codec, "count_notes"):
        notes = sum(run.codec.count_notes(dataset.vocab.decode(dataset.tokens(i)[1:]))
                    for i in dataset.indices("test", augmented=False))
        nll["notes"], nll["nats_per_note"] = notes, nll["nats"] * nll["tokens"] / max(notes, 1)
    generated = generate_scores(run, n, sampling, seed)
    heldout = decode_pieces(dataset, "test") + decode_pieces(dataset, "validation")
    training = decode_pieces(dataset, "train")
    if not heldout or not training:
        raise CadenzaError("the dataset needs pieces in train and in validation/test")
    metrics = {name: [compute_all(s) for s in scores] for name, scores in
               (("generated", generated), ("heldout", heldout), ("train", training))}
    detector = CopyDetector(training, max_bars=max_bars, by_part=chorale)
    copies = [asdict(detector.check(s)) for s in generated]
    generated_vs_real = compare_sets(metrics["generated"], metrics["heldout"])
    real_vs_real = compare_sets(metrics["heldout"], metrics["train"])
    numbers = {
        "run": str(run.path),
        "pieces": {"generated": n, "heldout": len(heldout), "train": len(training)},
        "sampling": {**sampling.to_dict(), "seed": seed},
        "test_nll": nll,
        "metrics": {k: summarize(v) for k, v in metrics.items()},
        "set_comparison": {
            "generated_vs_heldout": generated_vs_real,
            "heldout_vs_train": real_vs_real,
            "mean_overlap_generated": mean_overlap(generated_vs_real),
            "mean_overlap_bach": mean_overlap(real_vs_real),
        },
        "voice_leading": {"generated": voice_leading_rates(generated),
                          "heldout": voice_leading_rates(heldout)} if chorale else None,
        "copying": {
            "max_bars": max_bars,
            "flagged": int(sum(c["flagged"] for c in copies)),
            "longest_run_bars_max": max((c["longest_run_bars"] for c in copies), default=0.0),
            "pieces": copies,
        },
        "pitch_class_histograms": {
            "generated": np.mean([pitch_class_histogram(s) for s in generated], 0).tolist(),
            "heldout": np.mean([pitch_class_histogram(s) for s in heldout], 0).tolist(),
        },
    }
    numbers["seconds"] = round(time.perf_counter() - started, 2)
    return numbers, {"generated": generated, "metrics": metrics}


def write_report(run_path: str | Path, out: str | Path, n: int = 64,
                 sampling: SamplingSettings | None = None, seed: int = 0,
                 data: str | Path | None = None, samples: int = 3,
                 audio: bool = True) -> dict[str, Any]:
    """Build the report of a run into ``out`` (``report.html`` and ``report.json``)."""
    from cadenza.train.checkpoint import load_run

    run = load_run(run_path)
    dataset = run_dataset(run, data)
    numbers, material = build_report(run, dataset, n, sampling, seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(numbers, indent=1))
    html = figures.render_html(numbers, material, Path(run.path), samples, audio, out)
    (out / "report.html").write_text(html)
    return numbers
