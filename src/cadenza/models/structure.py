"""Where a token sits in a frame-structured sequence, as extra input embeddings.

A chorale sequence is ``START``, then frames of up to five tokens closed by ``|||``,
then ``END``. A recurrent model can learn to count frames and voices, but it spends
capacity (and training time) doing so. These features are deterministic functions of
the tokens already read, so the model stays an honest autoregressive model over the
same tokens; they only save it the counting:

- ``slot``: tokens read since the last ``|||`` or ``START`` (the voice about to come);
- ``phase``: frames since ``START`` modulo 16 (the 16th-note position in a 4/4 bar
  when the piece starts on a beat);
- ``bar``: frames since ``START`` divided by 16 (how far into the piece; helps END);
- ``phrase``: frames since the last fermata (where in the phrase).

Each is embedded and added to the token embedding; the tables start at zero, so a
model that gains the features starts out computing exactly what it did without them.
The counters travel in the model state, so truncated backprop through time and
step-by-step generation see the same features as a full forward pass.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

SLOTS, PHASES, BARS, PHRASE = 8, 16, 64, 64
NO_FERMATA = PHRASE - 1  # "long ago" until the first fermata


class FrameStructure(nn.Module):
    """Token ids [B, T] plus counters [B, 3] -> feature embeddings [B, T, dim], counters.

    Counters are (tokens since the frame began, frames since START, frames since the
    last fermata); ``initial_counters`` gives the values at the very start.
    """

    def __init__(self, dim: int, start: int, frame: int, fermata: int) -> None:
        super().__init__()
        self.start, self.frame, self.fermata = start, frame, fermata
        self.slot = nn.Embedding(SLOTS, dim)
        self.phase = nn.Embedding(PHASES, dim)
        self.bar = nn.Embedding(BARS, dim)
        self.phrase = nn.Embedding(PHRASE, dim)
        for table in (self.slot, self.phase, self.bar, self.phrase):
            nn.init.zeros_(table.weight)

    @staticmethod
    def initial_counters(batch_size: int, device: torch.device | str | None = None) -> Tensor:
        counters = torch.zeros(batch_size, 3, dtype=torch.long, device=device)
        counters[:, 2] = NO_FERMATA
        return counters

    def counters(self, tokens: Tensor, counters: Tensor) -> tuple[Tensor, Tensor]:
        """The counters after each token [B, T, 3], and after the last one [B, 3]."""
        after = torch.from_numpy(self._recurrence(tokens, counters)).to(counters.device)
        return after, after[:, -1]

    def _recurrence(self, tokens: Tensor, counters: Tensor) -> np.ndarray:
        """A plain recurrence (resets make cumsum awkward), in numpy: in generation it runs
        once per token at batch 1, where a dozen tiny torch ops would cost more than the
        LSTM step itself."""
        ids = tokens.detach().cpu().numpy()
        slot, frames, phrase = counters.detach().cpu().numpy().T.copy()
        after = np.empty((*ids.shape, 3), dtype=np.int64)
        for t in range(ids.shape[1]):
            token = ids[:, t]
            is_start, is_frame = token == self.start, token == self.frame
            slot = np.where(is_start | is_frame, 0, slot + 1)
            frames = np.where(is_start, 0, frames + is_frame)
            phrase = np.where(token == self.fermata, 0, phrase)
            phrase = np.where(is_start, NO_FERMATA, phrase + is_frame)
            after[:, t, 0], after[:, t, 1], after[:, t, 2] = slot, frames, phrase
        return after

    def forward(self, tokens: Tensor, counters: Tensor) -> tuple[Tensor, Tensor]:
        after = self._recurrence(tokens, counters)
        slot, frames, phrase = after[..., 0], after[..., 1], after[..., 2]
        # one lookup in the four tables stacked, instead of four lookups
        index = np.stack([np.minimum(slot, SLOTS - 1),
                          SLOTS + frames % PHASES,
                          SLOTS + PHASES + np.minimum(frames // PHASES, BARS - 1),
                          SLOTS + PHASES + BARS + np.minimum(phrase, PHRASE - 1)], -1)
        table = torch.cat([self.slot.weight, self.phase.weight, self.bar.weight,
                           self.phrase.weight])
        features = F.embedding(torch.from_numpy(index).to(table.device), table).sum(-2)
        return features, torch.from_numpy(after[:, -1].copy()).to(counters.device)


STRUCTURE_TOKENS = {"start_token": "START", "frame_token": "|||", "fermata_token": "(.)"}


def fill_structure_tokens(options: dict, token_id: Callable[[str], int]) -> dict:
    """Model options with the structure token ids looked up in the vocabulary, when the
    model asks for frame features and they are not set yet (``token_id`` maps a token
    name to its id and raises KeyError for a missing one)."""
    if not options.get("frame_features"):
        return options
    filled = dict(options)
    for option, name in STRUCTURE_TOKENS.items():
        if filled.get(option, -1) < 0:
            try:
                filled[option] = int(token_id(name))
            except KeyError:
                from .base import ModelConfigError

                raise ModelConfigError(
                    f"frame_features needs a {name!r} token, which this vocabulary lacks"
                ) from None
    return filled
