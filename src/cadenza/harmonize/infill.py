"""Filling hidden cells of a grid with the infilling model.

Two strategies, both seeing the whole grid (all given voices, before and after):

- ``fill_confident`` (deterministic): mask-predict (Ghazvininejad et al., 2019):
  predict every hidden cell, commit the most confident share, repeat; then a few
  passes that re-predict blocks of the filled cells given everything else.
- ``fill_gibbs``: Coconet's annealed blocked Gibbs sampling (Huang et al., 2017):
  repeatedly hide a shrinking random share of the free cells and resample them.

Constraints applied to the logits: each voice stays in its range; a tied cell only
continues the same pitch in the cell before it. Given cells are never touched.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from cadenza.evaluate.voiceleading import parallel_motion
from cadenza.models.infill import CLASSES, MASK, REST, InfillModel

# Ranges (MIDI) per voice after transposition to C/Am, a little wider than Bach's.
VOICE_RANGES = ((57, 84), (50, 77), (45, 72), (33, 65))


def range_mask(voices: int = 4) -> torch.Tensor:
    """[V, C] True where a class is allowed for the voice."""
    allowed = torch.zeros(voices, CLASSES, dtype=torch.bool)
    allowed[:, REST] = True
    for v, (low, high) in enumerate(VOICE_RANGES[:voices]):
        allowed[v, 1 + 2 * low: 2 + 2 * high + 1] = True
    return allowed


def _constrain(logits: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
    """Mask out-of-range classes, and ties that do not continue the previous cell.

    logits [F, V, C], cells [F, V] (current grid, MASK where unknown)."""
    frames, voices, _ = logits.shape
    logits = logits.masked_fill(~range_mask(voices)[None], -math.inf)
    previous = torch.cat([torch.full((1, voices), REST), cells[:-1]], dim=0)  # [F, V]
    known = (previous != MASK) & (previous != REST)
    previous_pitch = torch.where(known, (previous - 1) // 2, -1)
    tied_classes = torch.arange(2, CLASSES, 2)  # 1 + 2p + 1
    tied_pitch = (tied_classes - 1) // 2  # [128]
    unknown = previous == MASK
    legal = unknown[..., None] | (tied_pitch[None, None] == previous_pitch[..., None])
    tied_logits = logits[..., tied_classes].masked_fill(~legal, -math.inf)
    logits = logits.clone()
    logits[..., tied_classes] = tied_logits
    return logits


@torch.no_grad()
def _predict(model: InfillModel, cells: torch.Tensor, fermata: torch.Tensor,
             banned: torch.Tensor | None = None) -> torch.Tensor:
    """Constrained log-probabilities [F, V, C] for one grid [F, V]; ``banned`` [F, V, C]
    marks classes ruled out by voice leading."""
    logits = _constrain(model(cells[None], fermata[None])[0].float(), cells)
    if banned is not None:
        logits = logits.masked_fill(banned, -math.inf)
    return torch.log_softmax(logits, dim=-1)


def repair_ties(cells: np.ndarray) -> np.ndarray:
    """Turn any tie that continues nothing into a new note of the same pitch."""
    cells = cells.copy()
    for v in range(cells.shape[0]):
        for f in range(cells.shape[1]):
            c = cells[v, f]
            if c != REST and (c - 1) % 2 == 1:
                before = cells[v, f - 1] if f else REST
                if before == REST or (before - 1) // 2 != (c - 1) // 2:
                    cells[v, f] = c - 1
    return cells


def _mask_predict(model: InfillModel, grid: torch.Tensor, marks: torch.Tensor, steps: int,
                  banned: torch.Tensor | None = None) -> None:
    """Fill the MASK cells of ``grid`` [F, V] in place, most confident first."""
    steps = max(1, min(steps, int((grid == MASK).sum())))
    for step in range(steps):
        hidden = grid == MASK
        left = int(hidden.sum())
        if not left:
            return
        best, choice = _predict(model, grid, marks, banned).max(dim=-1)  # [F, V]
        best = best.masked_fill(~hidden, -math.inf)
        chosen = best.flatten().topk(math.ceil(left / (steps - step))).indices
        grid.view(-1)[chosen] = choice.view(-1)[chosen]


def _avoid_parallels(model: InfillModel, grid: torch.Tensor, marks: torch.Tensor,
                     free: torch.Tensor, rounds: int) -> None:
    """Re-fill the free notes that arrive in parallel fifths or octaves, ruling out the
    pitch that made them, until none is left or ``rounds`` run out."""
    banned = torch.zeros(*grid.shape, CLASSES, dtype=torch.bool)
    for _ in range(rounds):
        cells = grid.T.numpy()
        sounding = cells != REST
        pitch = np.where(sounding, (cells - 1) // 2, -1)
        starts = sounding & ((cells - 1) % 2 == 0)
        targets = {(f, v) for f, upper, lower, _ in parallel_motion(pitch, starts)
                   for v in (upper, lower) if free[f, v]}
        if not targets:
            return
        for f, v in targets:
            p = int(pitch[v, f])
            end = f + 1
            while end < grid.shape[0] and int(grid[end, v]) == 2 + 2 * p:  # its tied frames
                end += 1
            banned[f, v, 1 + 2 * p: 3 + 2 * p] = True
            grid[f:end, v] = MASK
        _mask_predict(model, grid, marks, 4, banned)


def fill_confident(model: InfillModel, cells: np.ndarray, fermata: np.ndarray,
                   iterations: int = 16, refine: int = 2, parallels: int = 6,
                   seed: int = 0) -> np.ndarray:
    """Fill the MASK cells of ``cells[V, F]`` deterministically: mask-predict, then
    ``refine`` passes re-predicting quarters of the free cells given all the rest, then
    up to ``parallels`` rounds re-filling notes that make parallel fifths or octaves."""
    model.eval()
    grid = torch.from_numpy(np.asarray(cells).T.copy())  # [F, V]
    marks = torch.from_numpy(np.asarray(fermata))
    free = (grid == MASK).numpy()
    _mask_predict(model, grid, marks, iterations)
    generator = torch.Generator().manual_seed(seed)
    free_cells = torch.from_numpy(free).nonzero()
    for _ in range(refine):
        order = free_cells[torch.randperm(len(free_cells), generator=generator)]
        for block in order.chunk(4):
            if not len(block):
                continue
            grid[block[:, 0], block[:, 1]] = MASK
            choice = _predict(model, grid, marks).argmax(dim=-1)
            grid[block[:, 0], block[:, 1]] = choice[block[:, 0], block[:, 1]]
    grid = torch.from_numpy(repair_ties(grid.T.numpy()).T.copy())
    _avoid_parallels(model, grid, marks, free, parallels)
    return repair_ties(grid.T.numpy())


def fill_gibbs(model: InfillModel, cells: np.ndarray, fermata: np.ndarray, steps: int = 64,
               temperature: float = 1.0, seed: int = 0, floor: float = 0.05) -> np.ndarray:
    """Fill the MASK cells by annealed blocked Gibbs sampling (Coconet)."""
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    grid = torch.from_numpy(np.asarray(cells).T.copy())
    marks = torch.from_numpy(np.asarray(fermata))
    free = (grid == MASK).nonzero()
    if not len(free):
        return np.asarray(cells).copy()
    for step in range(steps):
        share = max(floor, 1.0 - step / max(steps - 1, 1) * (1.0 - floor)) if step else 1.0
        count = max(1, int(round(share * len(free))))
        block = free[torch.randperm(len(free), generator=generator)[:count]]
        grid[block[:, 0], block[:, 1]] = MASK
        logp = _predict(model, grid, marks)[block[:, 0], block[:, 1]]  # [n, C]
        probs = torch.softmax(logp / max(temperature, 1e-4), dim=-1)
        grid[block[:, 0], block[:, 1]] = torch.multinomial(probs, 1, generator=generator)[:, 0]
    return repair_ties(grid.T.numpy())
