"""Copy detection: how much of a generated piece stands note for note in the training set.

Pieces become sequences of frames (what every part sounds, and which notes start,
on a 16th-note grid). A suffix automaton over all training pieces answers, in one
pass per generated piece, the longest run of frames that also occurs in some
training piece; each of the 12 transpositions of the generated piece is tried.
A hash set of training 8-frame n-grams gives the share of a piece's n-grams that
are copies. No pairwise scans: the cost is linear in the sizes of both sets.

``by_part=False`` compares notes whatever part plays them (any codec: piano, general
MIDI): a frame is then the set of sounding pitches and of pitches that start, drums
left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cadenza.evaluate.voiceleading import frame_grid
from cadenza.score import Score

FRAMES_PER_BAR = 16  # 4/4 at 16ths


def frame_keys(score: Score, shift: int = 0) -> list[bytes]:
    """One hashable key per frame: the parts' pitches (shifted) and note starts."""
    return _keys(*frame_grid(score), shift)


def note_frames(score: Score, steps_per_quarter: int = 4) -> np.ndarray:
    """``[frames, 128]`` int8 of the pitched notes, whatever their part: 2 where a note
    starts, 1 where one sounds on, 0 elsewhere."""
    grid = score.tpq // steps_per_quarter
    notes = score.notes[~score.drum_notes()] if score.drums else score.notes
    frames = np.zeros((-(-score.end // grid) if len(notes) else 0, 128), dtype=np.int8)
    first = notes["onset"] // grid
    last = np.maximum(-(-(notes["onset"] + notes["duration"]) // grid), first + 1)
    for f0, f1, p in zip(first, last, notes["pitch"]):
        frames[f0:f1, p] = np.maximum(frames[f0:f1, p], 1)
    frames[first, notes["pitch"]] = 2
    return frames


def _note_keys(frames: np.ndarray, shift: int) -> list[bytes]:
    shifted = np.zeros_like(frames)
    if shift >= 0:
        shifted[:, shift:] = frames[:, :128 - shift]
    else:
        shifted[:, :shift] = frames[:, -shift:]
    return [row.tobytes() for row in shifted]


def _keys(pitch: np.ndarray, starts: np.ndarray, shift: int) -> list[bytes]:
    shifted = np.where(pitch >= 0, pitch.astype(np.int16) + shift, -1).astype(np.int16)
    table = np.concatenate([shifted, starts.astype(np.int16)], axis=0).T  # [F, 2P]
    return [row.tobytes() for row in table]


class _SuffixAutomaton:
    """Suffix automaton over integer symbols (Blumer et al., 1985)."""

    def __init__(self) -> None:
        self.next: list[dict[int, int]] = [{}]
        self.link = [-1]
        self.length = [0]
        self.last = 0

    def add(self, symbol: int) -> None:
        current = len(self.next)
        self.next.append({})
        self.length.append(self.length[self.last] + 1)
        self.link.append(0)
        p = self.last
        while p != -1 and symbol not in self.next[p]:
            self.next[p][symbol] = current
            p = self.link[p]
        if p != -1:
            q = self.next[p][symbol]
            if self.length[p] + 1 == self.length[q]:
                self.link[current] = q
            else:
                clone = len(self.next)
                self.next.append(dict(self.next[q]))
                self.length.append(self.length[p] + 1)
                self.link.append(self.link[q])
                while p != -1 and self.next[p].get(symbol) == q:
                    self.next[p][symbol] = clone
                    p = self.link[p]
                self.link[q] = self.link[current] = clone
        self.last = current

    def longest_match(self, symbols: list[int]) -> int:
        """Length of the longest substring of ``symbols`` found in the automaton."""
        state, length, best = 0, 0, 0
        for s in symbols:
            while state and s not in self.next[state]:
                state = self.link[state]
                length = self.length[state]
            if s in self.next[state]:
                state = self.next[state][s]
                length += 1
            else:
                state, length = 0, 0
            best = max(best, length)
        return best


@dataclass
class CopyReport:
    longest_run_frames: int
    longest_run_bars: float
    best_shift: int
    ngram_share: float  # share of the piece's n-grams found in training (any shift)
    flagged: bool


class CopyDetector:
    """Index a training set once; check any number of generated pieces against it."""

    def __init__(self, training: list[Score], n: int = 8, max_bars: float = 4.0,
                 by_part: bool = True):
        self.n, self.by_part = n, by_part
        self.max_frames = int(max_bars * FRAMES_PER_BAR)
        self.symbols: dict[bytes, int] = {}
        self.automaton = _SuffixAutomaton()
        self.ngrams: set[tuple[int, ...]] = set()
        for index, score in enumerate(training):
            sequence = [self._symbol(k) for k in self._keys(score)(0)]
            for s in sequence:
                self.automaton.add(s)
            self.automaton.add(-1 - index)  # a separator no match can cross
            self.ngrams.update(_ngrams(sequence, n))

    def _keys(self, score: Score):
        """The frame keys of ``score`` under each shift: a function of the shift."""
        if self.by_part:
            grid = frame_grid(score)
            return lambda shift: _keys(*grid, shift)
        frames = note_frames(score)
        return lambda shift: _note_keys(frames, shift)

    def _symbol(self, key: bytes) -> int:
        return self.symbols.setdefault(key, len(self.symbols))

    def check(self, score: Score) -> CopyReport:
        best, best_shift, copied = 0, 0, set()
        keys_at = self._keys(score)
        frames = 0
        for shift in range(-6, 6):
            keys = keys_at(shift)
            frames = len(keys)
            sequence = [self.symbols.get(k, -(10**9)) for k in keys]  # unknown frames never match
            run = self.automaton.longest_match(sequence)
            if run > best or (run == best and shift == 0):
                best, best_shift = run, shift
            copied.update(i for i, g in enumerate(_ngrams(sequence, self.n)) if g in self.ngrams)
        total = max(frames - self.n + 1, 0)
        return CopyReport(
            longest_run_frames=best,
            longest_run_bars=best / FRAMES_PER_BAR,
            best_shift=best_shift,
            ngram_share=len(copied) / total if total else 0.0,
            flagged=best > self.max_frames,
        )


def _ngrams(sequence: list[int], n: int) -> list[tuple[int, ...]]:
    return [tuple(sequence[i:i + n]) for i in range(len(sequence) - n + 1)]
