"""BachBot's masked-part test: hide parts of held-out chorales, fill them, compare with Bach.

For each task (the voices hidden: S, A, T, B, AT, ATB) and each piece, the model
fills the hidden voices given the others. Reported per task:

- token error: share of hidden-voice tokens (grid cells) that differ from Bach's;
  frame error: share of frames where any of them differs (BachBot, §5.3);
- the model's mean log-probability per filled token of its own fill (LM methods);
- the conditional NLL of Bach's own hidden parts under the model (nats/token):
  teacher-forced for a language model; for the infilling model, with all hidden
  cells masked at once (as the harmonizer asks it: in windows, over transpositions);
- voice-leading counts per 100 frames of the filled chorales, next to Bach's.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from cadenza.codecs.chorale import END, FERMATA, FIRST_NOTE, FRAME, START
from cadenza.codecs.grid import MASK, REST, grid_to_score, score_to_grid
from cadenza.data.dataset import PreparedDataset
from cadenza.evaluate.voiceleading import CHECKS, voice_leading
from cadenza.harmonize.api import Harmonizer
from cadenza.harmonize.grid import error_rates, parse_voices

TASKS = ("S", "A", "T", "B", "AT", "ATB")


def grid_tokens(cells: np.ndarray, fermata: np.ndarray) -> tuple[list[int], list[int]]:
    """Chorale codes of a grid and, per code, the voice it belongs to (-1: structure)."""
    codes, voices = [START], [-1]
    for f in range(cells.shape[1]):
        if fermata[f]:
            codes.append(FERMATA)
            voices.append(-1)
        for v, cell in enumerate(cells[:, f]):
            if cell != REST:
                codes.append(int(cell) - 1 + FIRST_NOTE)
                voices.append(v)
        codes.append(FRAME)
        voices.append(-1)
    return codes + [END], voices + [-1]


@torch.no_grad()
def truth_nll(harmonizer: Harmonizer, cells: np.ndarray, fermata: np.ndarray,
              free: list[int]) -> tuple[float, int]:
    """Summed NLL (nats) of Bach's hidden cells and how many there are."""
    if harmonizer.kind == "lm":
        codes, voices = grid_tokens(cells, fermata)
        ids = torch.from_numpy(harmonizer.vocab.encode(np.array(codes)))[None]
        logits, _ = harmonizer.model(ids[:, :-1])
        logp = torch.log_softmax(logits.float(), -1)[0].gather(1, ids[0, 1:, None])[:, 0]
        chosen = torch.tensor([v in free for v in voices[1:]])
        return float(-logp[chosen].sum()), int(chosen.sum())
    inputs = cells.copy()
    inputs[free] = MASK
    logp = harmonizer.predictor().log_probs(torch.from_numpy(inputs.T.copy()),
                                            torch.from_numpy(fermata))  # [F, V, C]
    truth = torch.from_numpy(cells.T.copy())
    picked = logp.gather(-1, truth[..., None])[..., 0][:, free]
    return float(-picked.sum()), int(picked.numel())


def evaluate_harmony(harmonizer: Harmonizer, dataset: PreparedDataset, split: str = "test",
                     method: str | None = None, tasks: tuple[str, ...] = TASKS,
                     limit: int | None = None, width: int = 8, seed: int = 0,
                     processors: Sequence[Any] = ()) -> dict[str, Any]:
    """Rows per task, plus Bach's own voice-leading rates, for one method (a sampling
    method draws through ``processors``)."""
    indices = dataset.indices(split, augmented=False)[:limit]
    pieces = []
    for index in indices:
        score = dataset.codec.decode(dataset.vocab.decode(dataset.tokens(index)))
        pieces.append(score_to_grid(score))
    rows: dict[str, dict[str, float]] = {}
    for task in tasks:
        free = parse_voices(task)
        totals = {"wrong": 0.0, "cells": 0, "wrong_frames": 0.0, "frames": 0, "sequence_logp": 0.0,
                  "nll": 0.0, "nll_cells": 0, "seconds": 0.0}
        checks = {c: 0.0 for c in CHECKS}
        for cells, fermata in pieces:
            inputs = cells.copy()
            inputs[free] = MASK
            started = time.perf_counter()
            filled, sequence_logp = harmonizer.fill(inputs, fermata, method, width=width,
                                                    processors=processors, seed=seed)
            totals["seconds"] += time.perf_counter() - started
            rates = error_rates(filled, cells, free)
            totals["wrong"] += rates["token_error"] * rates["cells"]
            totals["cells"] += rates["cells"]
            totals["wrong_frames"] += rates["frame_error"] * rates["frames"]
            totals["frames"] += rates["frames"]
            totals["sequence_logp"] += sequence_logp * rates["cells"]
            nll, n = truth_nll(harmonizer, cells, fermata, free)
            totals["nll"] += nll
            totals["nll_cells"] += n
            counts = voice_leading(grid_to_score(filled, fermata))
            for c in CHECKS:
                checks[c] += counts[c]
        frames = max(totals["frames"], 1)
        rows[task] = {
            "token_error": totals["wrong"] / max(totals["cells"], 1),
            "frame_error": totals["wrong_frames"] / frames,
            "sequence_logp": totals["sequence_logp"] / max(totals["cells"], 1),
            "truth_nll": totals["nll"] / max(totals["nll_cells"], 1),
            "seconds_per_piece": totals["seconds"] / max(len(pieces), 1),
            **{f"{c}_per_100": 100 * checks[c] / frames for c in CHECKS},
        }
    bach = {c: 0.0 for c in CHECKS}
    frames = 0
    for cells, fermata in pieces:
        counts = voice_leading(grid_to_score(cells, fermata))
        frames += counts["frames"]
        for c in CHECKS:
            bach[c] += counts[c]
    return {
        "method": method or harmonizer.methods[0],
        "pieces": len(pieces),
        "tasks": rows,
        "bach": {f"{c}_per_100": 100 * bach[c] / max(frames, 1) for c in CHECKS},
    }


def format_harmony(result: dict[str, Any]) -> str:
    """The result as a text table (tasks, then Bach's own voice leading)."""
    head = (f"{'task':5} {'token err':>9} {'frame err':>9} {'seq logp':>9} {'truth NLL':>9} "
            f"{'P5/100':>7} {'P8/100':>7} {'cross':>6} {'space':>6} {'range':>6} {'s/piece':>7}")
    lines = [f"method {result['method']}, {result['pieces']} pieces", head]
    for task, r in result["tasks"].items():
        logp = "-" if math.isnan(r["sequence_logp"]) else f"{r['sequence_logp']:.3f}"
        lines.append(
            f"{task:5} {r['token_error']:9.3f} {r['frame_error']:9.3f} {logp:>9} "
            f"{r['truth_nll']:9.3f} {r['parallel_fifths_per_100']:7.3f} "
            f"{r['parallel_octaves_per_100']:7.3f} {r['voice_crossing_per_100']:6.2f} "
            f"{r['spacing_per_100']:6.2f} {r['out_of_range_per_100']:6.2f} "
            f"{r['seconds_per_piece']:7.2f}"
        )
    b = result["bach"]
    lines.append(
        f"{'Bach':5} {'':>9} {'':>9} {'':>9} {'':>9} {b['parallel_fifths_per_100']:7.3f} "
        f"{b['parallel_octaves_per_100']:7.3f} {b['voice_crossing_per_100']:6.2f} "
        f"{b['spacing_per_100']:6.2f} {b['out_of_range_per_100']:6.2f}"
    )
    return "\n".join(lines)
