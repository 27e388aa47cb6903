"""The chorale codec's grammar as a logits processor over vocabulary ids.

A small per-row state machine (held as tensors, so a whole batch advances at once)
knows where in the frame each row is and masks every token that would be illegal:

- ``START`` only at position 0; ``PAD`` never;
- a fermata only as the first token of a frame, and then at least one note;
- at most one note per voice, notes in voice order: each note takes the lowest voice
  below the previous note's voice whose range holds its pitch (see ``VOICE_RANGES``);
- a note at most ``MAX_CROSSING`` semitones above the lowest earlier note of its frame;
- a tied note only if its pitch sounded in the previous frame, in a position that can
  be the same voice;
- ``|||`` after 0-4 notes (not right after a lone fermata);
- ``END`` only right after a ``|||`` that closed a frame with notes.

Every sequence obeying these decodes with ``ChoraleCodec.decode`` and re-encodes to the
same codes. Measured on the 316 prepared 4/4 Bach chorales (66,912 frames, codec part
order S, A, T, B after transposition to C/Am; ``python benchmarks/bench_chorale_facts.py``
reproduces every count here): 1,507 frames (2.3%) have a later voice above an earlier
one, by up to 9 semitones, so voice crossing is allowed up to 9; unisons are common, so
equal pitches are allowed. Voice ranges are the fixed S 60-81, A 53-74, T 48-69,
B 36-64 widened to the decoded data. 3 of 190,926 tied notes in the data tie into a
pitch the previous frame did not sound (source-file errors); they are the only real
tokens the grammar refuses (3). Pass wider ``ranges`` for augmented (transposed) data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch
from torch import Tensor

from cadenza.codecs.base import Vocab
from cadenza.codecs.chorale import FIRST_NOTE, SPECIAL_NAMES
from cadenza.errors import ConfigError
from cadenza.generate.processors import Context

VOICE_RANGES: tuple[tuple[int, int], ...] = ((52, 84), (48, 79), (44, 74), (31, 67))
MAX_CROSSING = 9
_NO_PITCH = 1000  # "lowest note so far" of an empty frame


@dataclass
class GrammarState:
    """Per-row grammar state; every field is a tensor with the batch first."""

    length: Tensor  # [B] tokens seen
    done: Tensor  # [B] bool, END seen
    fermata: Tensor  # [B] bool, this frame opened with a fermata
    count: Tensor  # [B] notes in this frame
    voice: Tensor  # [B] lowest voice the last note can be (-1: none yet)
    lowest: Tensor  # [B] lowest pitch in this frame
    current: Tensor  # [B, voices] pitches of this frame by position (-1 empty)
    previous: Tensor  # [B, voices] pitches of the previous frame
    previous_count: Tensor  # [B]
    closed_notes: Tensor  # [B] bool, the last closed frame had notes

    def select(self, index: Tensor) -> GrammarState:
        return GrammarState(**{f.name: getattr(self, f.name).index_select(0, index)
                               for f in fields(self)})


def is_chorale_vocab(vocab: Vocab) -> bool:
    """Whether the vocabulary holds the chorale codec's special tokens."""
    return all(name in vocab.index for name in SPECIAL_NAMES)


def onset_ids(vocab: Vocab) -> Tensor:
    """Ids of the chorale vocabulary's note onsets (notes not tied from before)."""
    codes = torch.as_tensor(vocab.codes)
    return torch.nonzero((codes >= FIRST_NOTE) & ((codes - FIRST_NOTE) % 2 == 0)).squeeze(1)


class ChoraleGrammar:
    """Mask illegal chorale tokens; a constraint processor with per-row state."""

    name = "grammar"

    def __init__(self, vocab: Vocab, voices: int = 4,
                 ranges: tuple[tuple[int, int], ...] = VOICE_RANGES,
                 max_crossing: int = MAX_CROSSING):
        self.vocab, self.voices, self.max_crossing = vocab, voices, max_crossing
        self.ranges = ranges[:voices]
        self.start, self.end, self.frame, self.fermata = (vocab.id(n) for n in SPECIAL_NAMES)
        codes = torch.as_tensor(vocab.codes)
        self.is_note = codes >= FIRST_NOTE  # [V]
        pitch = torch.full_like(codes, -1)
        pitch[self.is_note] = (codes[self.is_note] - FIRST_NOTE) // 2
        self.pitch = pitch  # [V], -1 for non-notes
        self.tied = self.is_note & ((codes - FIRST_NOTE) % 2 == 1)
        # next_voice[v + 1, p]: lowest voice after v whose range holds p (voices: none)
        next_voice = torch.full((voices + 1, 128), voices, dtype=torch.long)
        for after in range(-1, voices):
            for p in range(128):
                for v in range(after + 1, voices):
                    low, high = self.ranges[v]
                    if low <= p <= high:
                        next_voice[after + 1, p] = v
                        break
        self.next_voice = next_voice
        # note_ok[v + 1, id]: a note id that some voice after v can sing
        self.note_ok = (next_voice[:, pitch.clamp(min=0)] < voices) & self.is_note

    # -- state -------------------------------------------------------------------
    def init_state(self, batch_size: int) -> GrammarState:
        zeros = torch.zeros(batch_size, dtype=torch.long)
        no = torch.zeros(batch_size, dtype=torch.bool)
        empty = torch.full((batch_size, self.voices), -1, dtype=torch.long)
        return GrammarState(zeros, no, no, zeros, zeros - 1, zeros + _NO_PITCH, empty,
                            empty, zeros, no)

    def select_state(self, state: GrammarState, index: Tensor) -> GrammarState:
        return state.select(index.cpu())

    def advance(self, state: GrammarState, tokens: Tensor) -> GrammarState:
        """The state after each row's next token ``tokens`` [B]."""
        tokens = tokens.cpu()
        note = self.is_note[tokens]
        frame = tokens == self.frame
        pitch = self.pitch[tokens]
        slot = state.count.clamp(max=self.voices - 1)
        current = state.current.clone()
        rows = torch.nonzero(note).squeeze(1)
        current[rows, slot[rows]] = pitch[rows]
        fallback = (state.voice + 1).clamp(max=self.voices - 1)
        found = self.next_voice[state.voice + 1, pitch.clamp(min=0)]
        voice = torch.where(found < self.voices, found, fallback)
        empty = torch.full_like(current, -1)
        return GrammarState(
            length=state.length + 1,
            done=state.done | (tokens == self.end),
            fermata=(state.fermata | (tokens == self.fermata)) & ~frame,
            count=torch.where(note, state.count + 1, torch.where(frame, 0, state.count)),
            voice=torch.where(note, voice, torch.where(frame, -1, state.voice)),
            lowest=torch.where(note, torch.minimum(state.lowest, pitch),
                               torch.where(frame, _NO_PITCH, state.lowest)),
            current=torch.where(frame[:, None], empty, current),
            previous=torch.where(frame[:, None], current, state.previous),
            previous_count=torch.where(frame, state.count, state.previous_count),
            closed_notes=torch.where(frame, state.count > 0, state.closed_notes),
        )

    # -- mask ----------------------------------------------------------------------
    def allowed(self, state: GrammarState) -> Tensor:
        """Which ids each row may take next: bool [B, V]."""
        batch = state.length.shape[0]
        notes = self.note_ok[state.voice + 1]  # [B, V]
        notes &= self.pitch[None] <= state.lowest[:, None] + self.max_crossing
        notes &= ~self.tied[None] | self._tie_ok(state)
        allowed = notes
        no_notes = state.count == 0
        allowed[:, self.frame] = ~(state.fermata & no_notes)
        allowed[:, self.fermata] = no_notes & ~state.fermata
        allowed[:, self.end] = no_notes & ~state.fermata & state.closed_notes
        allowed[:, self.start] = False
        only = torch.zeros(batch, len(self.vocab), dtype=torch.bool)
        only[:, self.start] = True
        allowed = torch.where((state.length == 0)[:, None], only, allowed)
        only = torch.zeros_like(only)
        only[:, self.end] = True
        return torch.where(state.done[:, None], only, allowed)

    def _tie_ok(self, state: GrammarState) -> Tensor:
        """[B, V]: the pitch sounded last frame at a position that can be this voice."""
        position = torch.arange(self.voices)[None]
        reachable = (position + self.voices - state.previous_count[:, None]
                     >= state.count[:, None]) & (state.previous >= 0)  # [B, voices]
        sounded = torch.zeros(len(state.count), 129, dtype=torch.bool)
        sounded.scatter_(1, torch.where(reachable, state.previous, 128), True)
        return sounded[:, self.pitch.clamp(min=0)]

    def __call__(self, logits: Tensor, context: Context) -> Tensor:
        mask = self.allowed(context.states[self.name]).to(logits.device)
        return logits.masked_fill(~mask, float("-inf"))

    # -- closing a row cut short ---------------------------------------------------------
    def finish(self, ids: list[int]) -> list[int]:
        """Close an unfinished row: end or drop its open frame, drop trailing empty
        frames, add END. Adds at most two tokens; the result decodes and re-encodes."""
        ids = [int(t) for t in ids]
        if ids and ids[-1] == self.end:
            return ids
        cut = self._boundary(ids, len(ids))
        if self._has_note(ids[cut + 1:]):
            ids.append(self.frame)
        else:
            del ids[cut + 1:]
        while ids and ids[-1] == self.frame:
            cut = self._boundary(ids, len(ids) - 1)
            if self._has_note(ids[cut + 1:-1]):
                break
            del ids[cut + 1:]
        return ids + [self.end]

    def _boundary(self, ids: list[int], stop: int) -> int:
        """Index of the last START or ``|||`` before ``stop`` (-1 if none)."""
        return max((i for i in range(stop) if ids[i] in (self.frame, self.start)), default=-1)

    def _has_note(self, ids: list[int]) -> bool:
        return any(bool(self.is_note[t]) for t in ids)


class _FrameCounter:
    """Per-row count of the frames closed so far (``|||`` tokens), kept by the decoder."""

    name = "frames"

    def __init__(self, vocab: Vocab):
        self.frame, self.end = vocab.id("|||"), vocab.id("END")

    def init_state(self, batch_size: int) -> Tensor:
        return torch.zeros(batch_size, dtype=torch.long)

    def advance(self, state: Tensor, tokens: Tensor) -> Tensor:
        return state + (tokens.cpu() == self.frame).long()

    def select_state(self, state: Tensor, index: Tensor) -> Tensor:
        return state.index_select(0, index.cpu())


class MinFrames(_FrameCounter):
    """Forbid ``END`` before ``frames`` frames: no chorale is a bar or two long (the
    shortest of the 316 has 96 frames, six bars). A constraint with a per-row count."""

    name = "min_frames"

    def __init__(self, vocab: Vocab, frames: int):
        super().__init__(vocab)
        self.frames = int(frames)

    def __call__(self, logits: Tensor, context: Context) -> Tensor:
        early = (context.states[self.name] < self.frames).to(logits.device)
        if not bool(early.any()):
            return logits
        logits = logits.clone()
        logits[early, self.end] = float("-inf")
        return logits


class EndBoost(_FrameCounter):
    """Past ``frames`` frames, multiply the odds of ``END`` by ``growth`` for every further
    frame (Hugging Face's ``ExponentialDecayLengthPenalty``, counted in frames).

    A language model has no plan for its length: it may end at any cadence, or wander on
    for fifty bars. This lets a long piece end where the model itself finds a close (the
    grammar still allows ``END`` only after a whole frame), instead of being cut off at
    ``max_tokens``; before ``frames`` it changes nothing."""

    name = "end_boost"

    def __init__(self, vocab: Vocab, frames: int, growth: float = 1.1):
        super().__init__(vocab)
        if growth < 1.0:
            raise ConfigError(f"end_growth must be >= 1, got {growth}")
        self.frames, self.log_growth = int(frames), math.log(growth)

    def __call__(self, logits: Tensor, context: Context) -> Tensor:
        over = (context.states[self.name] - self.frames).clamp(min=0).to(logits.device)
        if not bool(over.any()):
            return logits
        logits = logits.clone()
        logits[:, self.end] += over * self.log_growth
        return logits
