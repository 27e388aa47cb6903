"""Writers: a Score out to MIDI (symusic) and MusicXML (music21)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from cadenza.score import Score


def write_midi(score: Score, path: str | Path) -> Path:
    """Write a type-1 MIDI file, one track per part; tied notes are joined first."""
    path = Path(path)
    path.write_bytes(midi_bytes(score))
    return path


def midi_bytes(score: Score) -> bytes:
    """The score as standard MIDI file bytes (programs, drums and pedal kept)."""
    from cadenza.io.symusic_score import to_symusic

    return bytes(to_symusic(score).dumps_midi())


def write_musicxml(score: Score, path: str | Path) -> Path:
    """Write MusicXML through music21 (measures, rests and barline ties are added)."""
    path = Path(path)
    to_music21(score).write("musicxml", fp=str(path))
    return path


def to_music21(score: Score) -> Any:
    """Build a music21 Score: one Part per part, notes at exact offsets, fermatas kept."""
    from music21 import expressions, key, meter, note, stream, tempo, tie

    out = stream.Score()
    if score.title:
        from music21 import metadata

        out.metadata = metadata.Metadata(title=score.title)
    for index, name in enumerate(score.parts):
        part = stream.Part(id=_safe_id(name, index))
        part.partName = name
        for ts in score.time_signatures:
            part.insert(_quarters(ts.tick, score.tpq), meter.TimeSignature(str(ts)))
        if score.key is not None:
            tonic = ("C", "C#", "D", "E-", "E", "F", "F#", "G", "A-", "A", "B-", "B")
            part.insert(0, key.Key(tonic[score.key.tonic], score.key.mode))
        if index == 0:
            for tick, qpm in score.tempos:
                part.insert(_quarters(tick, score.tpq), tempo.MetronomeMark(number=qpm))
        for row in _part_rows(score, index):
            onset, duration, pitches, tied, fermata = row
            element = note.Note(pitches[0]) if len(pitches) == 1 else _chord(pitches)
            element.quarterLength = _quarters(duration, score.tpq)
            for member, is_tied in zip(_members(element), tied):
                if is_tied:  # each note of a chord carries its own tie
                    member.tie = tie.Tie("stop")
            if fermata:
                element.expressions.append(expressions.Fermata())
            part.insert(_quarters(onset, score.tpq), element)
        _link_ties(part)
        out.insert(0, part)
    return out


def _part_rows(score: Score, index: int) -> list[tuple[int, int, list[int], list[bool], bool]]:
    """Notes of one part grouped into chords by (onset, duration): pitches from low to
    high, each with its own tied flag."""
    rows: dict[tuple[int, int], list] = {}
    for n in score.part_notes(index):
        slot = rows.setdefault((int(n["onset"]), int(n["duration"])), [{}, False])
        slot[0][int(n["pitch"])] = bool(n["tied"])
        slot[1] |= bool(n["fermata"])
    return [(o, d, sorted(p), [p[k] for k in sorted(p)], f)
            for (o, d), (p, f) in sorted(rows.items())]


def _members(element: Any) -> list[Any]:
    """The notes of a chord, or the note itself."""
    return list(element.notes) if hasattr(element, "pitches") and len(element.pitches) > 1 \
        else [element]


def _link_ties(part: Any) -> None:
    """Give each note that a tied note continues a 'start' (or 'continue') tie; notes
    of chords are linked one by one."""
    from music21 import tie

    last_by_pitch: dict[int, tuple[Any, Any]] = {}  # pitch -> (note, its element)
    for element in part.notes:
        for member in _members(element):
            midi = member.pitch.midi
            previous = last_by_pitch.get(midi)
            if member.tie is not None and member.tie.type == "stop" and previous is not None:
                before, holder = previous
                if holder.offset + holder.quarterLength == element.offset:
                    kind = "continue" if before.tie and before.tie.type == "stop" else "start"
                    before.tie = tie.Tie(kind)
            last_by_pitch[midi] = (member, element)


def _chord(pitches: list[int]) -> Any:
    from music21 import chord

    return chord.Chord(pitches)


def _quarters(ticks: int | np.integer, tpq: int) -> Fraction:
    return Fraction(int(ticks), tpq)


def _safe_id(name: str, index: int) -> str:
    cleaned = "".join(c for c in name if c.isalnum())
    return cleaned or f"P{index + 1}"
