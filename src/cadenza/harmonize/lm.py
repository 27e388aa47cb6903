"""Harmonizing with a chorale language model: BachBot's forced decoding, and beam search.

The given voices fix the shape of every frame in advance: an optional fermata,
one slot per voice when any given voice sounds (none when all rest), then
``|||``. Given slots are forced to the melody's tokens; free slots take the
model's choice among the tokens legal there (the voice's range; a tie only
continuing the same pitch in that voice). That template is a constraint
(:class:`Template`, a logits processor with per-row state) on
:mod:`cadenza.generate.decode`'s search: greedy and beam search rank by the model's
joint log-probability of the whole sequence, which for fixed given tokens orders fills
exactly as the conditional log-probability of the free tokens does; sampling draws
each free token through the given processors among the legal ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from cadenza.codecs import Vocab
from cadenza.codecs.chorale import END, FERMATA, FIRST_NOTE, FRAME, START
from cadenza.codecs.grid import MASK, REST
from cadenza.errors import CadenzaError
from cadenza.generate import decode
from cadenza.generate.processors import Context, LogitsProcessor
from cadenza.harmonize.infill import VOICE_RANGES, repair_ties
from cadenza.models import SequenceModel


@dataclass
class Slot:
    """One token position: a forced id, or a free voice to choose for (``voice`` also
    names the voice of a forced note)."""

    forced: int | None = None
    voice: int | None = None
    frame: int = 0
    ends_frame: bool = False  # the frame delimiter


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
                    slots.append(Slot(forced=ids[code], voice=voice, frame=f))
        slots.append(Slot(forced=ids[FRAME], frame=f, ends_frame=True))
    slots.append(Slot(forced=ids[END], frame=cells.shape[1]))
    return slots


class Template:
    """The forced-tokens constraint: at each position only the template's token, or, in a
    free slot, the tokens legal for its voice. Per row it remembers the pitch each voice
    sounds in the current and the previous frame (a tie may only continue the latter)."""

    name = "template"

    def __init__(self, slots: list[Slot], vocab: Vocab, prompt_length: int = 1) -> None:
        codes = torch.as_tensor(np.asarray(vocab.codes))
        note = codes >= FIRST_NOTE
        self.slots, self.prompt_length = slots, prompt_length
        self.pitch = torch.where(note, (codes - FIRST_NOTE) // 2, -1)  # [vocab]
        self.tied = note & ((codes - FIRST_NOTE) % 2 == 1)
        self.untied = torch.stack([note & ~self.tied & (self.pitch >= low) & (self.pitch <= high)
                                   for low, high in VOICE_RANGES])  # [voices, vocab]

    def __call__(self, logits: Tensor, context: Context) -> Tensor:
        slot = self.slots[context.step]
        if slot.forced is not None:
            allowed = torch.zeros_like(logits, dtype=torch.bool)
            allowed[:, slot.forced] = True
        else:
            held = context.states[self.name][2][:, slot.voice]  # [B]
            allowed = self.untied[slot.voice][None] | (
                self.tied[None] & (self.pitch[None] == held[:, None]))
        return logits.masked_fill(~allowed.to(logits.device), float("-inf"))

    def init_state(self, batch_size: int) -> Any:
        """(tokens read, pitch per voice in this frame, in the frame before); -1: none."""
        empty = torch.full((batch_size, len(VOICE_RANGES)), -1)
        return 0, empty, empty.clone()

    def advance(self, state: Any, tokens: Tensor) -> Any:
        read, current, previous = state
        index = read - self.prompt_length
        if 0 <= index < len(self.slots):
            slot = self.slots[index]
            if slot.voice is not None:
                current = current.clone()
                current[:, slot.voice] = self.pitch[tokens]
            elif slot.ends_frame:
                current, previous = torch.full_like(current, -1), current
        return read + 1, current, previous

    def select_state(self, state: Any, index: Tensor) -> Any:
        read, current, previous = state
        return read, current[index], previous[index]


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
    model.eval()
    given = repair_ties(np.where(cells == MASK, REST, cells))
    cells = np.where(cells == MASK, MASK, given)
    slots = build_template(cells, fermata, vocab)
    prompt = [_ids(vocab)[START]]
    room = len(prompt) + len(slots)
    if model.max_context is not None and room > model.max_context + 1:
        raise CadenzaError(f"the melody needs {room} tokens, more than this model's context "
                           f"of {model.max_context}; harmonize a shorter melody")
    template = Template(slots, vocab, len(prompt))
    options = {"max_tokens": room + 1, "prompt_ids": prompt, "grammar": None}
    if sample:
        ids = decode.sample(model, vocab, 1, [template, *processors], seed=seed, **options)[0]
        total = decode.log_prob(model, vocab, ids, len(prompt), grammar=None)
    else:
        best = decode.beam_search(model, vocab, width, [template], scoring="model", **options)
        ids, total = best.ids, best.log_prob
    grid = cells.copy()
    for slot, token in zip(slots, ids[len(prompt):]):
        if slot.forced is None:
            grid[slot.voice, slot.frame] = int(vocab.codes[token]) - FIRST_NOTE + 1
    return np.where(grid == MASK, REST, grid), total / len(slots)

