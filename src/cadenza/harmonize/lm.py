"""Harmonizing with a chorale language model: BachBot's forced decoding, and beam search.

The given voices fix the shape of every frame in advance: an optional fermata,
one slot per voice when any given voice sounds (none when all rest), then
``|||``. Given slots are forced to the melody's tokens; free slots take the
model's choice among the tokens legal there (the voice's range; a tie only
continuing the same pitch in that voice). Beams are ranked by the model's joint
log-probability of the whole sequence, which for fixed given tokens orders fills
exactly as the conditional log-probability of the free tokens does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from cadenza.codecs import Vocab
from cadenza.codecs.chorale import END, FERMATA, FIRST_NOTE, FRAME, START
from cadenza.codecs.grid import MASK, REST
from cadenza.errors import CadenzaError
from cadenza.generate.decode import decoding_mode
from cadenza.generate.processors import Context, LogitsProcessor, apply
from cadenza.harmonize.infill import VOICE_RANGES, repair_ties
from cadenza.models import SequenceModel


@dataclass
class Slot:
    """One token position: forced id, or a free voice to choose for."""

    forced: int | None = None
    voice: int | None = None
    frame: int = 0


def _ids(vocab: Vocab) -> dict[int, int]:
    return {int(code): i for i, code in enumerate(vocab.codes) if code >= 0}


def build_template(cells: np.ndarray, fermata: np.ndarray, vocab: Vocab) -> list[Slot]:
    """Token slots for a grid whose free cells are MASK."""
    ids = _ids(vocab)
    slots: list[Slot] = []
    for f in range(cells.shape[1]):
        column = cells[:, f]
        if fermata[f]:
            slots.append(Slot(forced=ids[FERMATA], frame=f))
        if ((column != REST) & (column != MASK)).any():
            for voice, cell in enumerate(column):
                if cell == MASK:
                    slots.append(Slot(voice=voice, frame=f))
                elif cell != REST:
                    code = int(cell) + FIRST_NOTE - 1
                    if code not in ids:
                        raise CadenzaError(
                            f"the model has no token for the given note {(cell - 1) // 2} "
                            f"in frame {f}; it is outside what the model was trained on"
                        )
                    slots.append(Slot(forced=ids[code], frame=f))
        slots.append(Slot(forced=ids[FRAME], frame=f))
    slots.append(Slot(forced=ids[END], frame=cells.shape[1]))
    return slots


class _Legal:
    """Which ids a free voice may take, given the pitch it held in the frame before."""

    def __init__(self, vocab: Vocab):
        size = len(vocab)
        codes = np.asarray(vocab.codes)
        note = codes >= FIRST_NOTE
        self.pitch = np.where(note, (codes - FIRST_NOTE) // 2, -1)
        self.tied = note & ((codes - FIRST_NOTE) % 2 == 1)
        self.untied = {}
        for v, (low, high) in enumerate(VOICE_RANGES):
            self.untied[v] = note & ~self.tied & (self.pitch >= low) & (self.pitch <= high)
        self.size = size

    def mask(self, voice: int, previous_pitch: int) -> np.ndarray:
        allowed = self.untied[voice].copy()
        if previous_pitch >= 0:
            allowed |= self.tied & (self.pitch == previous_pitch)
        return allowed


def harmonize_lm(model: SequenceModel, vocab: Vocab, cells: np.ndarray, fermata: np.ndarray,
                 width: int = 1, sample: bool = False,
                 processors: Sequence[LogitsProcessor] = (),
                 seed: int = 0) -> tuple[np.ndarray, float]:
    """Fill the MASK cells of ``cells[V, F]``; returns the grid and the log-probability of
    the whole sequence, given and chosen tokens, per token (nats). Since
    log p(fill | given) = log p(fill, given) - log p(given), and the last term is the same
    for every fill, this is the conditional log-likelihood that the search maximizes, up
    to a constant. ``width`` 1 is BachBot's greedy search; ``sample`` draws each free token
    through ``processors`` (temperature, top-k, ...) among the legal ones."""
    with decoding_mode():
        return _harmonize(model, vocab, cells, fermata, width, sample, processors, seed)


def _harmonize(model, vocab, cells, fermata, width, sample, processors, seed):
    model.eval()
    given = repair_ties(np.where(cells == MASK, REST, cells))
    cells = np.where(cells == MASK, MASK, given)
    slots = build_template(cells, fermata, vocab)
    legal = _Legal(vocab)
    codes = torch.as_tensor(np.asarray(vocab.codes))
    generator = torch.Generator().manual_seed(seed)
    logits, state = model.step(torch.tensor([_ids(vocab)[START]]), model.init_state(1))
    grids = torch.from_numpy(cells.copy())[None]  # [K, V, F]: each beam's grid
    total = torch.zeros(1, dtype=torch.float64)  # joint log-probability of each beam
    for slot in slots:
        logp = torch.log_softmax(logits.float(), dim=-1).double()  # [K, V]
        if slot.forced is not None:
            total = total + logp[:, slot.forced]
            parents = torch.arange(len(total))
            tokens = torch.full_like(parents, slot.forced)
        else:
            allowed = torch.from_numpy(np.stack([
                legal.mask(slot.voice, _held(g, slot.voice, slot.frame)) for g in grids.numpy()
            ]))
            scores = logp.masked_fill(~allowed, -math.inf)
            if sample:
                drawn = apply(processors, scores, Context(torch.zeros(len(scores), 0)))
                probs = torch.softmax(drawn, dim=-1)
                tokens = torch.multinomial(probs, 1, generator=generator)[:, 0]
                parents = torch.arange(len(total))
            else:
                flat = (total[:, None] + scores).flatten()
                best = flat.topk(min(width, int(torch.isfinite(flat).sum()))).indices
                parents, tokens = best // scores.shape[1], best % scores.shape[1]
            total = total[parents] + scores[parents, tokens]
            grids = grids[parents].clone()
            grids[:, slot.voice, slot.frame] = codes[tokens] - FIRST_NOTE + 1
        if len(parents) != logits.shape[0] or not torch.equal(parents, torch.arange(len(parents))):
            state = model.select_state(state, parents)
        logits, state = model.step(tokens, state)
    best = int(total.argmax())
    grid = grids[best].numpy()
    return np.where(grid == MASK, REST, grid), float(total[best]) / len(slots)


def _held(grid: np.ndarray, voice: int, frame: int) -> int:
    """The pitch ``voice`` sounds in the frame before ``frame`` (-1 for none)."""
    previous = int(grid[voice, frame - 1]) if frame else REST
    return (previous - 1) // 2 if previous not in (REST, MASK) else -1
