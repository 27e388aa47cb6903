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

from dataclasses import dataclass

import numpy as np
import torch

from cadenza.codecs import Vocab
from cadenza.codecs.chorale import END, FERMATA, FIRST_NOTE, FRAME, START
from cadenza.errors import CadenzaError
from cadenza.harmonize.infill import VOICE_RANGES, repair_ties
from cadenza.models import SequenceModel
from cadenza.models.infill import MASK, REST


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


@torch.no_grad()
def harmonize_lm(model: SequenceModel, vocab: Vocab, cells: np.ndarray, fermata: np.ndarray,
                 width: int = 1, sample: bool = False, temperature: float = 1.0,
                 seed: int = 0) -> tuple[np.ndarray, float]:
    """Fill the MASK cells of ``cells[V, F]``; returns the grid and the mean log-probability
    of the free tokens chosen (nats per token)."""
    model.eval()
    given = repair_ties(np.where(cells == MASK, REST, cells))
    cells = np.where(cells == MASK, MASK, given)
    slots = build_template(cells, fermata, vocab)
    legal = _Legal(vocab)
    generator = torch.Generator().manual_seed(seed)
    start = torch.tensor([_ids(vocab)[START]])
    logits, state = model.step(start, model.init_state(1))
    # per beam: total log-prob, free log-prob, chosen cells, pitch held per voice last frame
    beams = [(0.0, 0.0, cells.copy())]
    for slot in slots:
        logp = torch.log_softmax(logits.float(), dim=-1)  # [K, V]
        candidates = []
        for k, (total, free, grid) in enumerate(beams):
            if slot.forced is not None:
                candidates.append((total + logp[k, slot.forced].item(), free, k, slot.forced))
                continue
            previous = grid[slot.voice, slot.frame - 1] if slot.frame else REST
            held = (int(previous) - 1) // 2 if previous not in (REST, MASK) else -1
            allowed = torch.from_numpy(legal.mask(slot.voice, held))
            scores = logp[k].masked_fill(~allowed, -float("inf"))
            if sample:
                probs = torch.softmax(scores / max(temperature, 1e-4), dim=-1)
                picks = torch.multinomial(probs, 1, generator=generator).tolist()
            else:
                picks = scores.topk(min(width, int(allowed.sum()))).indices.tolist()
            for token in picks:
                value = scores[token].item()
                candidates.append((total + value, free + value, k, token))
        candidates.sort(key=lambda c: -c[0])
        chosen = candidates[:width] if slot.forced is None else candidates
        new_beams, rows = [], []
        for total, free, k, token in chosen:
            grid = beams[k][2]
            if slot.forced is None:
                grid = grid.copy()
                grid[slot.voice, slot.frame] = int(vocab.codes[token]) - FIRST_NOTE + 1
            new_beams.append((total, free, grid))
            rows.append((k, token))
        index = torch.tensor([k for k, _ in rows])
        state = model.select_state(state, index) if len(beams) > 1 or len(rows) > 1 else state
        logits, state = model.step(torch.tensor([t for _, t in rows]), state)
        beams = new_beams
    total, free, grid = max(beams, key=lambda b: b[0])
    n_free = max(sum(slot.forced is None for slot in slots), 1)
    return np.where(grid == MASK, REST, grid), free / n_free  # voices silent where all given rest
