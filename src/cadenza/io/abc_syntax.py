"""The pieces of ABC syntax that need no reader state: keys, meters, lengths, and
repeats written out as played (see :mod:`cadenza.io.abc` for the choices)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from cadenza.score import Key

NATURAL = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
SHARP_ORDER, FLAT_ORDER = "FCGDAEB", "BEADGCF"
MAJOR_SHARPS = {"C": 0, "G": 1, "D": 2, "A": 3, "E": 4, "B": 5, "F#": 6, "C#": 7, "F": -1,
                "BB": -2, "EB": -3, "AB": -4, "DB": -5, "GB": -6, "CB": -7}
MODES = {"": 0, "maj": 0, "ion": 0, "mix": -1, "dor": -2, "m": -3, "min": -3, "aeo": -3,
         "phr": -4, "loc": -5, "lyd": 1}
ACCIDENTALS = {"^": 1, "^^": 2, "_": -1, "__": -2, "=": 0}


@dataclass
class Event:
    """A note, chord or rest of one voice (``pitches`` empty for a rest), or a marker."""

    length: Fraction = Fraction(0)  # whole notes
    pitches: list[int] = field(default_factory=list)
    spelled: list[tuple[str, int]] = field(default_factory=list)  # (letter, octave) per pitch
    explicit: list[bool] = field(default_factory=list)  # an accidental was written
    tie: bool = False  # tied to the next event
    fermata: bool = False
    marker: str = ""  # bar | start | end | ending | meter | double
    value: object = None


def written_out(events: list[Event]) -> list[Event]:
    """The events as played: repeats taken, first/second endings chosen per pass."""
    out: list[Event] = []
    start, passes, skipping, i = 0, 1, False, 0
    jumped: set[int] = set()  # end-repeat markers taken on this pass, by position
    while i < len(events):
        event = events[i]
        kind = event.marker
        if kind == "start":
            start, passes, skipping = i + 1, 1, False
            jumped = set()
        elif kind == "ending":
            skipping = passes not in event.value
        elif kind == "double":
            skipping = False
        elif kind == "end":
            if skipping:
                skipping = False
            else:
                endings = [max(e.value) for e in events[start:i] if e.marker == "ending"]
                times = max([2, *endings, *_later_endings(events, i)])
                if passes < times and (i, passes) not in jumped:
                    jumped.add((i, passes))
                    passes += 1
                    i = start
                    continue
                start, passes = i + 1, 1
        elif not skipping:
            out.append(event)
        i += 1
    return out


def _later_endings(events: list[Event], i: int) -> list[int]:
    """Ending numbers after position ``i`` up to the next repeat start or double bar
    (a third ending means a third pass)."""
    found = []
    for event in events[i + 1:]:
        if event.marker in ("start", "double"):
            break
        if event.marker == "ending":
            found.append(max(event.value))
    return found


def read_length(line: str, i: int) -> tuple[Fraction, int]:
    """The length multiplier written at ``line[i:]`` (``2``, ``/``, ``3/2``, ``//``)."""
    found = re.match(r"(\d*)(/*)(\d*)", line[i:])
    digits, slashes, under = found.groups()
    value = Fraction(int(digits) if digits else 1)
    if slashes:
        value /= int(under) if under and len(slashes) == 1 else 2 ** len(slashes)
    return value, i + found.end()


def read_fraction(value: str, tune: Any) -> Fraction:
    found = re.match(r"\s*(\d+)\s*/\s*(\d+)", value)
    if not found or int(found.group(2)) == 0 or int(found.group(1)) == 0:
        raise tune.fail(f"cannot read the unit length L:{value}")
    return Fraction(int(found.group(1)), int(found.group(2)))


def read_meter(value: str, tune: Any) -> tuple[int, int] | None:
    value = value.strip()
    if value in ("C", "C|"):
        return (4, 4) if value == "C" else (2, 2)
    if not value or value.lower() == "none":
        return None
    found = re.match(r"\(?([\d+]+)\)?\s*/\s*(\d+)", value)
    if not found:
        raise tune.fail(f"cannot read the meter M:{value}")
    numerator = sum(int(x) for x in found.group(1).split("+") if x)
    denominator = int(found.group(2))
    if numerator < 1 or denominator < 1:
        raise tune.fail(f"cannot read the meter M:{value}")
    return numerator, denominator


def read_key(value: str, tune: Any) -> tuple[Key, dict[str, int]]:
    """The Key and letter alterations of a ``K:`` field (tonic, mode, extra accidentals)."""
    words = value.split()
    found = re.match(r"([A-G])([#b]?)\s*([A-Za-z]*)", value) if words else None
    alterations: dict[str, int] = {}
    key = Key(0, "major")
    if found and not value.lower().startswith("none"):
        tonic, sign, mode = found.group(1), found.group(2), found.group(3).lower()
        mode_key = "m" if mode == "m" else mode[:3]
        if mode_key not in MODES:
            mode_key = ""  # a clef= or other parameter follows the tonic
        name = (tonic + sign).upper()
        if name not in MAJOR_SHARPS:
            raise tune.fail(f"cannot read the key K:{value}")
        sharps = MAJOR_SHARPS[name] + MODES[mode_key]
        order = SHARP_ORDER if sharps > 0 else FLAT_ORDER
        for letter in order[:abs(sharps)]:
            alterations[letter] = 1 if sharps > 0 else -1
        tonic_pc = (NATURAL[tonic] + {"#": 1, "b": -1, "": 0}[sign]) % 12
        if mode_key in ("", "maj", "ion"):
            key = Key(tonic_pc, "major")
        elif mode_key in ("m", "min", "aeo"):
            key = Key(tonic_pc, "minor")
        else:  # a church mode: the major key of its signature
            key = Key((7 * sharps) % 12, "major")
    if "exp" in [w.lower() for w in words]:  # only the accidentals written out
        alterations = {}
    for accidental, letter in re.findall(r"(\^\^|\^|__|_|=)([A-Ga-g])(?![A-Za-z])", value):
        alterations[letter.upper()] = ACCIDENTALS[accidental]
    return key, alterations
