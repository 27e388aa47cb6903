"""ABC notation (2.1) into Scores, every note kept.

music21's ABC reader loses notes: the fermata shorthand ``H`` swallows the note it
marks, ``+fermata+`` turns into notes, ``!fermata!`` is dropped, and an accidental is
forgotten for the rest of its bar and across a tie. This reader covers what melodies
are written with and refuses (one line) what it cannot read rather than guess.

What it does with what a tune can hold, where a choice had to be made:

- **Tunes**: one Score per ``X:`` tune, in file order (callers that need one piece,
  ``harmonize`` and ``continue``, take the first and say so).
- **Voices** (``V:``): one part each, in order of first appearance, named by
  ``name=`` or the voice id.
- **Repeats and endings are written out as played**: ``|: A :|`` is A A, and
  ``|: A |1 B :|2 C |`` is A B A C (``[1,3`` and ``[2-3`` endings too; a section
  repeats as many times as its highest ending number, at least twice).
- **Pickup bars** start the Score at tick 0, as music21 reads a MusicXML pickup and as
  the chorale corpus was prepared; the full bars follow it.
- **Grace notes** (``{...}``) have no time of their own and are left out; the note they
  decorate keeps its full length. Every other decoration (``!...!``, ``+...+``,
  ``.~HLMOPSTuv`` and ``U:`` letters) is read and dropped, except fermatas, which are kept.
- Chord symbols and annotations (``"..."``), slurs and spacers are ignored; ties,
  broken rhythm (``>``, ``<``), tuplets (``(3``, ``(p:q:r``), chords (``[CEG]``),
  multi-bar rests (``Z4``) and inline fields (``[K:...]``, ``[M:...]``, ``[L:...]``) are
  read. Voice overlay (``&``) is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from cadenza.errors import ReadError
from cadenza.io.abc_syntax import (
    ACCIDENTALS,
    NATURAL,
    Event,
    read_fraction,
    read_key,
    read_length,
    read_meter,
    written_out,
)
from cadenza.score import DEFAULT_TPQ, Key, Score, TimeSignature, empty_notes, make_notes

LETTERS = "CDEFGAB"
DECORATION_LETTERS = set(".~HIJKLMNOPQRSTUVWhijklmnopqrstuvw")
FERMATAS = {"fermata", "invertedfermata", "H"}
TICKS_PER_WHOLE = 4 * DEFAULT_TPQ


@dataclass
class Voice:
    name: str
    key: dict[str, int]  # letter -> alteration of the key signature
    unit: Fraction
    meter: tuple[int, int] | None
    events: list[Event] = field(default_factory=list)
    bar_accidentals: dict[tuple[str, int], int] = field(default_factory=dict)
    tuplet: list = field(default_factory=lambda: [0, Fraction(1)])  # notes left, factor
    broken: Fraction = Fraction(1)  # length factor owed to the next note by > or <
    fermata: bool = False  # a fermata decoration waits for its note


def read_abc(path: str | Path, data: bytes) -> list[Score]:
    """Every tune of an ABC file as a Score; a clear :class:`ReadError` otherwise."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    tunes = _split_tunes(text)
    if not tunes:
        raise ReadError(f"{path}: holds no ABC tune (no K: field)")
    scores = []
    for index, lines in enumerate(tunes):
        where = f"{path} (tune {index + 1})"
        score = _Tune(where).read(lines)
        # titles as the other readers give them: the file's name, numbered in an opus
        title = Path(path).stem if len(tunes) == 1 else f"{Path(path).stem}#{index + 1}"
        scores.append(score.replace(title=title))
    return scores


def _split_tunes(text: str) -> list[list[str]]:
    """Lines of each tune (from ``X:``, or the whole file where it has none)."""
    lines = [re.sub(r"(?<!\\)%.*", "", line).rstrip() for line in text.splitlines()]
    starts = [i for i, line in enumerate(lines) if line.startswith("X:")]
    chunks = ([lines[s:e] for s, e in zip(starts, starts[1:] + [len(lines)])]
              if starts else [lines])
    return [c for c in chunks if any(line.startswith("K:") for line in c)]


class _Tune:
    """The state of one tune while its lines are read."""

    def __init__(self, where: str):
        self.where = where
        self.voices: dict[str, Voice] = {}
        self.names: dict[str, str] = {}
        self.user: dict[str, str] = {}  # U: letter -> decoration name
        self.current: Voice | None = None
        self.key = Key(0, "major")
        self.key_map: dict[str, int] = {}
        self.unit: Fraction | None = None
        self.meter: tuple[int, int] | None = (4, 4)
        self.tempo = 120.0
        self.first_meter: tuple[int, int] | None = (4, 4)

    def fail(self, message: str) -> ReadError:
        return ReadError(f"{self.where}: {message}")

    # -- fields ------------------------------------------------------------
    def read(self, lines: list[str]) -> Score:
        body = False
        for line in lines:
            field_match = re.match(r"^([A-Za-z+]):(.*)$", line)
            if field_match:
                name, value = field_match.group(1), field_match.group(2).strip()
                self.field(name, value, body)
                body = body or name == "K"
            elif body and line.strip():
                self.music(line)
        return self.score()

    def field(self, name: str, value: str, body: bool) -> None:
        if name == "M":
            self.meter = read_meter(value, self)
            if body:
                self.voice().meter = self.meter
                self.voice().events.append(Event(marker="meter", value=self.meter))
        elif name == "L":
            self.unit = read_fraction(value, self)
            if body:
                self.voice().unit = self.unit
        elif name == "K":
            self.key, self.key_map = read_key(value, self)
            if body:
                self.voice().key = dict(self.key_map)
            else:
                self.first_meter = self.meter
        elif name == "Q":
            found = re.search(r"(\d+)/(\d+)\s*=\s*(\d+)", value) or re.search(r"^(\d+)$", value)
            if found and len(found.groups()) == 3:
                beat = Fraction(int(found.group(1)), int(found.group(2)))
                self.tempo = float(int(found.group(3)) * beat * 4)
            elif found:
                self.tempo = float(found.group(1)) * float((self.unit or Fraction(1, 8)) * 4)
        elif name == "U":
            letter, _, meaning = value.partition("=")
            self.user[letter.strip()] = meaning.strip().strip("!+")
        elif name == "V":
            ident, _, rest = value.partition(" ")
            named = re.search(r'(?:name|nm)="([^"]*)"', rest)
            if ident and (named or ident not in self.names):
                self.names[ident] = named.group(1) if named else ident
            if body and ident:
                self.current = self.voice(ident)

    def voice(self, ident: str = "") -> Voice:
        if not ident:
            if self.current is not None:
                return self.current
            ident = next(iter(self.voices), "1")
        if ident not in self.voices:
            unit = self.unit or (Fraction(1, 16) if self.meter and
                                 Fraction(*self.meter) < Fraction(3, 4) else Fraction(1, 8))
            self.unit = unit
            self.voices[ident] = Voice(self.names.get(ident, ident), dict(self.key_map), unit,
                                       self.meter)
        self.current = self.current or self.voices[ident]
        return self.voices[ident]

    # -- the music of one line ----------------------------------------------
    def music(self, line: str) -> None:
        voice = self.voice()
        i, n = 0, len(line)
        while i < n:
            c = line[i]
            if c in " \t\\`$*;y\r":
                i += 1
            elif c == '"':
                i = _closing(line, i, '"', self) + 1
            elif c in "!+":
                end = line.find(c, i + 1)
                if end < 0:  # ABC 2.0's `!` line break
                    i += 1
                    continue
                voice.fermata |= line[i + 1:end] in FERMATAS
                i = end + 1
            elif c == "{":
                i = _closing(line, i, "}", self) + 1  # grace notes: no time of their own
            elif c == "(":
                tuplet = i + 1 < n and line[i + 1].isdigit()  # else a slur
                i = self.tuplet(voice, line, i + 1) if tuplet else i + 1
            elif c == ")":
                i += 1
            elif c == "-":
                last = _last_sounding(voice)
                if last is not None:
                    last.tie = True
                i += 1
            elif c in "<>":
                j = i
                while j < n and line[j] == c:
                    j += 1
                self.broken(voice, c, j - i)
                i = j
            elif c == "&":
                raise self.fail("voice overlay (&) is not supported; write the voices with V:")
            elif c in "|:" or (c == "[" and i + 1 < n and line[i + 1] in "|"):
                i = self.bar(voice, line, i)
            elif c == "[" and i + 1 < n and line[i + 1].isdigit():
                i = self.ending(voice, line, i + 1)
            elif c == "[" and re.match(r"\[[A-Za-z]:", line[i:]):
                end = _closing(line, i, "]", self)
                self.field(line[i + 1], line[i + 3:end].strip(), True)
                voice = self.voice()
                i = end + 1
            elif c == "[":
                i = self.chord(voice, line, i + 1)
            elif c in "^_=" or c.upper() in LETTERS or c in "zxZX":
                i = self.note(voice, line, i)
            elif c in DECORATION_LETTERS:
                voice.fermata |= self.user.get(c, c) in FERMATAS
                i += 1
            elif c == "]":
                i += 1
            else:
                raise self.fail(f"cannot read {c!r} in {line.strip()!r}")

    def bar(self, voice: Voice, line: str, i: int) -> int:
        j = i
        while j < len(line) and (line[j] in "|:]" or (line[j] == "[" and j + 1 < len(line)
                                                      and line[j + 1] in "|")):
            j += 1
        run = line[i:j]
        voice.bar_accidentals.clear()
        voice.events.append(Event(marker="bar"))
        if run.startswith(":") or ":|" in run or run == "::":
            voice.events.append(Event(marker="end"))
        if run.endswith(":") and "|" in run or run == "::":
            voice.events.append(Event(marker="start"))
        if run in ("||", "|]", "[|", "[|]"):
            voice.events.append(Event(marker="double"))
        k = j
        while k < len(line) and line[k] == " ":
            k += 1
        if k < len(line) and line[k].isdigit():
            return self.ending(voice, line, k)
        return j

    def ending(self, voice: Voice, line: str, i: int) -> int:
        found = re.match(r"\d+(?:[-,]\d+)*", line[i:])
        numbers: set[int] = set()
        for part in found.group(0).split(","):
            low, _, high = part.partition("-")
            numbers.update(range(int(low), int(high or low) + 1))
        voice.events.append(Event(marker="ending", value=numbers))
        return i + found.end()

    def tuplet(self, voice: Voice, line: str, i: int) -> int:
        found = re.match(r"(\d+)(?::(\d*))?(?::(\d*))?", line[i:])
        p = int(found.group(1))
        compound = bool(voice.meter) and voice.meter[0] % 3 == 0 and voice.meter[0] > 3
        default_q = {2: 3, 3: 2, 4: 3, 6: 2, 8: 3}.get(p, 3 if compound else 2)
        q = int(found.group(2)) if found.group(2) else default_q
        r = int(found.group(3)) if found.group(3) else p
        if p < 1 or q < 1:
            raise self.fail(f"bad tuplet ({found.group(0)}")
        voice.tuplet = [r, Fraction(q, p)]
        return i + found.end()

    def broken(self, voice: Voice, sign: str, count: int) -> None:
        last = _last_timed(voice)
        if last is None:
            raise self.fail(f"broken rhythm {sign * count!r} follows no note")
        short = Fraction(1, 2 ** count)
        first, second = (2 - short, short) if sign == ">" else (short, 2 - short)
        last.length *= first
        voice.broken = second

    def chord(self, voice: Voice, line: str, i: int) -> int:
        end = _closing(line, i - 1, "]", self)
        inner = Event()
        j = i
        while j < end:
            if line[j] in "^_=" or line[j].upper() in LETTERS:
                j = self.pitch(voice, line, j, inner, first=not inner.pitches)
            elif line[j] == "-":
                inner.tie = True
                j += 1
            else:
                j += 1
        if not inner.pitches:
            raise self.fail(f"empty chord in {line.strip()!r}")
        length, k = read_length(line, end + 1)
        inner.length *= length
        self.place(voice, inner)
        return k

    def note(self, voice: Voice, line: str, i: int) -> int:
        if line[i] in "zxZX":
            length, j = read_length(line, i + 1)
            if line[i] in "ZX":  # multi-bar rest: the number counts bars
                bars = length.numerator if length.denominator == 1 else 1
                bar = Fraction(*voice.meter) if voice.meter else Fraction(1)
                self.place(voice, Event(length=bar * bars / voice.unit), timed=False)
            else:
                self.place(voice, Event(length=length))
            return j
        event = Event()
        j = self.pitch(voice, line, i, event, first=True)
        self.place(voice, event)
        return j

    def pitch(self, voice: Voice, line: str, i: int, event: Event, first: bool) -> int:
        """One pitch with its accidental, octave marks and length into ``event``."""
        found = re.match(r"(\^\^|\^|__|_|=)?([A-Ga-g])([',]*)", line[i:])
        if not found:
            raise self.fail(f"cannot read a note at {line[i:i + 12]!r}")
        accidental, letter, marks = found.groups()
        octave = (5 if letter.islower() else 4) + marks.count("'") - marks.count(",")
        name = letter.upper()
        spelled = (name, octave)
        if accidental:
            alter = ACCIDENTALS[accidental]
            voice.bar_accidentals[spelled] = alter
        else:
            alter = voice.bar_accidentals.get(spelled, voice.key.get(name, 0))
        midi = 12 * (octave + 1) + NATURAL[name] + alter
        if not 0 <= midi <= 127:
            raise self.fail(f"note {found.group(0)} is outside the MIDI range")
        length, j = read_length(line, i + found.end())
        if first:
            event.length = length
        event.pitches.append(midi)
        event.spelled.append(spelled)
        event.explicit.append(bool(accidental))
        return j

    def place(self, voice: Voice, event: Event, timed: bool = True) -> None:
        """Scale a note or rest by the unit length, tuplet and broken rhythm; carry a tie's
        accidental across its bar line; attach a waiting fermata."""
        event.length *= voice.unit
        if timed and voice.tuplet[0] > 0:
            event.length *= voice.tuplet[1]
            voice.tuplet[0] -= 1
        event.length *= voice.broken
        voice.broken = Fraction(1)
        if event.length <= 0:
            raise self.fail("a note of zero length")
        previous = _last_sounding(voice)
        if previous is not None and previous.tie:
            for k, spelled in enumerate(event.spelled):
                for p, s in zip(previous.pitches, previous.spelled):
                    if s == spelled and not event.explicit[k]:
                        event.pitches[k] = p
        # a fermata on a rest is dropped with it, not moved to the next note
        event.fermata, voice.fermata = voice.fermata and bool(event.pitches), False
        voice.events.append(event)

    # -- the whole tune ------------------------------------------------------
    def score(self) -> Score:
        rows, signatures = [], []
        parts = []
        for voice in self.voices.values():
            played = written_out(voice.events)
            if not any(e.pitches for e in played):
                continue
            part = len(parts)
            parts.append(voice.name if len(self.voices) > 1 else "Part 1")
            time, previous = Fraction(0), None
            for event in played:
                if event.marker == "meter" and part == 0 and event.value:
                    signatures.append(TimeSignature(_ticks(time), *event.value))
                if event.marker:
                    continue
                onset, end = _ticks(time), _ticks(time + event.length)
                for pitch in event.pitches:
                    tied = bool(previous and previous.tie and pitch in previous.pitches)
                    rows.append((onset, end - onset, pitch, part, tied, event.fermata))
                previous = event if event.pitches else None
                time += event.length
        if not rows:
            raise self.fail("holds no notes")
        onset, duration, pitch, part, tied, fermata = (np.array(c) for c in zip(*rows))
        notes = make_notes(onset=onset, duration=duration, pitch=pitch, part=part, tied=tied,
                           fermata=fermata)
        first = [TimeSignature(0, *self.first_meter)] if self.first_meter else []
        signatures = _dedupe(first + [s for s in signatures if s.tick > 0])
        return Score(notes=notes if len(notes) else empty_notes(), parts=parts, key=self.key,
                     time_signatures=signatures or [TimeSignature(0, 4, 4)],
                     tempos=[(0, self.tempo)])


def _last_timed(voice: Voice) -> Event | None:
    for event in reversed(voice.events):
        if not event.marker:
            return event
        if event.marker != "bar":
            return None
    return None


def _last_sounding(voice: Voice) -> Event | None:
    for event in reversed(voice.events):
        if event.pitches:
            return event
        if not event.marker:  # a rest ends any tie
            return None
    return None


def _closing(line: str, i: int, char: str, tune: _Tune) -> int:
    end = line.find(char, i + 1)
    if end < 0:
        raise tune.fail(f"{line[i]!r} without its closing {char!r} in {line.strip()!r}")
    return end


def _ticks(whole_notes: Fraction) -> int:
    return int(round(whole_notes * TICKS_PER_WHOLE))


def _dedupe(signatures: list[TimeSignature]) -> list[TimeSignature]:
    kept: list[TimeSignature] = []
    for s in signatures:
        if not kept or (s.numerator, s.denominator) != (kept[-1].numerator, kept[-1].denominator):
            kept.append(s)
    return kept
