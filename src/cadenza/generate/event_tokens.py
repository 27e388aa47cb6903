"""Generation over event tokens (MidiTok REMI/TSD): a length in bars, and primers.

A piece of event tokens has no frame grid, so its length is counted in the codec's own
time tokens: REMI opens every bar with a ``Bar`` token; TSD moves time with
``TimeShift`` (and ``Rest``) tokens worth ``beats.steps.resolution`` quarters each.
:class:`TimeLimit` lets a piece run until a given count and then gives the probability
of any token that would pass it to ``EOS`` instead, so the piece ends where the model
would have gone on, and never in the middle of a note's tokens.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from cadenza.codecs.base import Vocab
from cadenza.errors import CadenzaError
from cadenza.generate.processors import Context
from cadenza.score import Score

QUARTERS_PER_BAR = 4.0  # TSD limits count 4/4 bars: the tokens carry no bar lines


def time_costs(vocab: Vocab, codec: Any) -> tuple[np.ndarray, float]:
    """Per id, how far the token moves time, and the unit of a bar in that measure:
    REMI counts ``Bar`` tokens (one a bar), TSD quarters (four a bar)."""
    names = vocab.tokens
    if codec.tokenization == "REMI":
        return np.array([float(t.startswith("Bar_")) for t in names]), 1.0
    cost = np.zeros(len(names))
    for i, name in enumerate(names):
        kind, _, value = name.partition("_")
        if kind in ("TimeShift", "Rest"):
            beats, steps, resolution = (int(x) for x in value.split("."))
            cost[i] = beats + steps / resolution
    return cost, QUARTERS_PER_BAR


class TimeLimit:
    """End every piece once it would pass ``limit`` (in the units of
    :func:`time_costs`): a token that would go past it hands its probability to EOS."""

    name = "time_limit"

    def __init__(self, vocab: Vocab, codec: Any, limit: float):
        cost, _ = time_costs(vocab, codec)
        self.cost = torch.tensor(cost, dtype=torch.float64)
        self.limit = float(limit)
        end = vocab.role_id("eos")
        if end is None:
            raise CadenzaError("this vocabulary has no end token (role eos)")
        self.end = end

    def init_state(self, batch_size: int) -> Tensor:
        return torch.zeros(batch_size, dtype=torch.float64)  # time used so far

    def advance(self, state: Tensor, tokens: Tensor) -> Tensor:
        return state + self.cost[tokens.cpu()]

    def select_state(self, state: Tensor, index: Tensor) -> Tensor:
        return state.index_select(0, index.cpu())

    def __call__(self, logits: Tensor, context: Context) -> Tensor:
        used = context.states[self.name]  # [B]
        over = (used[:, None] + self.cost[None, :]) > self.limit + 1e-9  # [B, V]
        over = over & (self.cost[None, :] > 0)
        if not over.any():
            return logits
        over = over.to(logits.device)
        moved = torch.logsumexp(logits.masked_fill(~over, float("-inf")), dim=-1)  # [B]
        out = logits.masked_fill(over, float("-inf"))
        end = out[:, self.end]
        out[:, self.end] = torch.where(over.any(-1), torch.logaddexp(end, moved), end)
        return out


def used_time(ids: list[int], vocab: Vocab, codec: Any) -> float:
    """The time the tokens ``ids`` take, in the units of :func:`time_costs`."""
    cost, _ = time_costs(vocab, codec)
    return float(cost[np.asarray(ids, dtype=np.int64)].sum()) if ids else 0.0


def bars_limit(prompt: list[int], vocab: Vocab, codec: Any, bars: int) -> float:
    """The limit that lets ``bars`` bars follow the prompt (its last bar completed)."""
    _, per_bar = time_costs(vocab, codec)
    used = used_time(prompt, vocab, codec)
    return math.ceil(used / per_bar - 1e-9) * per_bar + bars * per_bar


@dataclass
class EventPrimer:
    """A primer's tokens (``BOS`` and the kept opening, no ``EOS``) and what was kept."""

    ids: list[int]
    score: Score  # the kept opening, as encoded
    notes: int


def cut_score(score: Score, bars: int | None = None, notes: int | None = None) -> Score:
    """The opening of ``score``: its first ``bars`` bars of the first meter, or every
    note up to its ``notes``-th onset (notes starting together are kept together)."""
    if bars is not None:
        ts = score.time_signatures[0] if score.time_signatures else None
        quarters = ts.numerator * 4 / ts.denominator if ts else 4.0
        end = int(round(bars * quarters * score.tpq))
    elif notes is not None:
        onsets = np.sort(score.notes["onset"])
        end = int(onsets[min(notes, len(onsets)) - 1]) + 1 if len(onsets) else 0
    else:
        return score
    keep = score.notes[score.notes["onset"] < end].copy()
    if bars is not None:  # a note held past the cut stops there
        keep["duration"] = np.minimum(keep["onset"] + keep["duration"], end) - keep["onset"]
    return score.replace(notes=keep)


def event_primer(score: Score, codec: Any, vocab: Vocab, bars: int | None,
                 notes: int | None, budget: int, where: str) -> EventPrimer:
    """Encode the opening of ``score`` as a prompt of at most ``budget`` tokens."""
    opening = cut_score(score, bars, notes)
    if not len(opening.notes):
        raise CadenzaError(f"{where}: no notes to continue in the kept opening")
    ids = vocab.encode(codec.encode(opening), where=where).tolist()
    end = vocab.role_id("eos")
    if ids and ids[-1] == end:
        ids = ids[:-1]
    if len(ids) > budget:
        raise CadenzaError(f"{where}: the kept opening takes {len(ids)} tokens, more than the "
                           f"{budget} this run can be prompted with; keep fewer --bars or "
                           "--notes")
    return EventPrimer(ids, opening, len(opening.notes))


def generate_events(run: Any, n: int, processors: list, bars: int,
                    prompt: list[int] | None = None, max_tokens: int = 1 << 20,
                    seed: int | None = None) -> list[Score]:
    """``n`` pieces that follow ``prompt`` (default ``BOS``) for ``bars`` more bars,
    decoded; at most ``max_tokens`` tokens a piece (a model with a bounded context slides
    it past its context: :class:`cadenza.generate.decode.Windowed`)."""
    from cadenza.generate.decode import sample

    prompt = prompt or [run.vocab.role_id("bos")]
    if max_tokens <= len(prompt) + 1:
        raise CadenzaError(f"the prompt of {len(prompt)} tokens leaves no room within "
                           f"{max_tokens} tokens; keep fewer --bars or --notes")
    chain = list(processors) + [TimeLimit(run.vocab, run.codec,
                                          bars_limit(prompt, run.vocab, run.codec, bars))]
    rows = sample(run.model, run.vocab, n=n, processors=chain, max_tokens=max_tokens, seed=seed,
                  prompt_ids=prompt, grammar=None)
    return [run.codec.decode(run.vocab.decode(ids)) for ids in rows]


def prompt_budget(max_tokens: int) -> int:
    """The most tokens a primer may take: three quarters of what a piece may hold."""
    return max(1, max_tokens * 3 // 4)
