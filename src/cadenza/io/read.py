"""Readers: every supported file format into :class:`~cadenza.score.Score`.

MIDI goes through symusic (fast, C++); ABC through cadenza's own reader
(:mod:`cadenza.io.abc`); MusicXML and Humdrum through music21, imported only when such
a file is read.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from cadenza.errors import CadenzaError, ReadError
from cadenza.limits import MAX_MIDI_BYTES, MAX_MUSIC21_BYTES
from cadenza.safety import problem
from cadenza.score import DEFAULT_TPQ, Key, Score, TimeSignature, empty_notes, make_notes
from cadenza.validate import valid_meter

MIDI_SUFFIXES = (".mid", ".midi")
MUSIC21_SUFFIXES = (".musicxml", ".mxl", ".xml", ".abc", ".krn")
SUFFIXES = MIDI_SUFFIXES + MUSIC21_SUFFIXES


def read(path: str | Path, data: bytes | None = None, drums: bool = False) -> list[Score]:
    """Read a music file into one Score per piece it holds (an ABC file may hold many).

    ``data`` may carry the file's bytes when the caller has them already. Drum tracks
    of a MIDI file are left out unless ``drums`` (their pitches name instruments, which
    only a codec that knows drums, such as MidiTok's, can hold).
    Raises :class:`ReadError` with a one-line reason for anything unreadable: whatever
    a parser raises is turned into one here, where the file name is known.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ReadError(f"{path}: unsupported file type {suffix!r} (use {', '.join(SUFFIXES)})")
    limit = MAX_MIDI_BYTES if suffix in MIDI_SUFFIXES else MAX_MUSIC21_BYTES
    if data is None:
        try:
            if path.stat().st_size > limit:
                raise ReadError(f"{path}: larger than {limit >> 20} MB, the most cadenza "
                                f"reads for {suffix} files")
            data = path.read_bytes()
        except OSError as err:
            raise ReadError(f"{path}: cannot open: {problem(err)}") from None
    if len(data) > limit:
        raise ReadError(f"{path}: larger than {limit >> 20} MB, the most cadenza reads for "
                        f"{suffix} files")
    if not data.strip():
        raise ReadError(f"{path}: empty file")
    try:
        if suffix in MIDI_SUFFIXES:
            scores = [read_midi_bytes(data, title=path.stem, where=str(path), drums=drums)]
        elif suffix == ".abc":  # music21's ABC reader loses notes; see cadenza.io.abc
            from cadenza.io.abc import read_abc

            scores = read_abc(path, data)
        else:
            if suffix == ".mxl":
                check_archive(path, data)
            scores = read_music21_file(path)
        for score in scores:
            check_score(score, str(path))
        return scores
    except CadenzaError:
        raise
    except Exception as err:  # music21 and symusic raise many types for bad input
        raise ReadError(f"{path}: cannot read: {problem(err)}") from None


def check_archive(path: Path, data: bytes, limit: int = MAX_MUSIC21_BYTES) -> None:
    """Refuse an .mxl archive whose members would unpack to more than ``limit`` bytes.
    zipfile stops each member at its declared size (a lying size fails its CRC), and
    music21 reads members through zipfile, so the declared sizes bound the memory."""
    import io
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            total = sum(member.file_size for member in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise ReadError(f"{path}: not an .mxl archive ({err})") from None
    if total > limit:
        raise ReadError(f"{path}: unpacks to {total} bytes, more than the {limit >> 20} MB "
                        "cadenza reads (a zip bomb?)")


def check_score(score: Score, where: str) -> None:
    """Refuse facts no music has, rather than let them divide by zero later: time
    signatures such as 0/0 or 255/255, and tempos that are zero, negative or infinite."""
    for ts in score.time_signatures:
        if not valid_meter(ts.numerator, ts.denominator):
            raise ReadError(f"{where}: time signature {ts} at tick {ts.tick} is not a meter "
                            "(numerator 1..255, denominator a power of two up to 128)")
    for tick, qpm in score.tempos:
        if not np.isfinite(qpm) or qpm <= 0:
            raise ReadError(f"{where}: tempo {qpm} quarters per minute at tick {tick} is not "
                            "a tempo")


# -- MIDI ----------------------------------------------------------------------
def read_midi_bytes(data: bytes, title: str = "", where: str = "MIDI data",
                    drums: bool = False) -> Score:
    """Parse MIDI bytes with symusic; tracks become parts (drum tracks only with
    ``drums``, flagged in ``Score.drums``)."""
    import symusic

    if not data.startswith(b"MThd"):
        raise ReadError(f"{where}: not a MIDI file (no MThd header)")
    try:
        midi = symusic.Score.from_midi(data)
    except Exception as err:  # symusic raises plain RuntimeError/ValueError on corrupt data
        raise ReadError(f"{where}: corrupt MIDI: {_first_line(err)}") from None
    tpq = midi.ticks_per_quarter
    if not 1 <= tpq <= 32767:  # 0 is no resolution; the top bit would mean SMPTE time
        raise ReadError(f"{where}: ticks per quarter {tpq} is not supported (1..32767)")
    score = score_from_symusic(midi, title=title)
    return score if drums else score.without_drums()


def score_from_symusic(midi: Any, title: str = "") -> Score:
    """Convert a symusic Score (tick time) into a cadenza Score at 480 tpq; drum tracks
    are kept as parts flagged in ``Score.drums`` (see :mod:`cadenza.io.symusic_score`)."""
    from cadenza.io.symusic_score import from_symusic

    return from_symusic(midi, title=title)


# -- music21 formats -------------------------------------------------------------
def read_music21_file(path: Path) -> list[Score]:
    """Parse MusicXML / ABC / Humdrum with music21 (one Score per tune of an opus)."""
    from music21 import converter, stream

    try:
        parsed = converter.parse(str(path), forceSource=True)
    except Exception as err:  # music21 raises many exception types for bad input
        raise ReadError(f"{path}: cannot parse: {_first_line(err)}") from None
    if isinstance(parsed, stream.Opus):
        pieces = list(parsed.scores)
        if not pieces:
            raise ReadError(f"{path}: holds no pieces")
        return [from_music21(p, title=f"{path.stem}#{i + 1}") for i, p in enumerate(pieces)]
    return [from_music21(parsed, title=path.stem)]


def from_music21(music: Any, title: str = "") -> Score:
    """Convert a music21 Score/Part/Stream into a cadenza Score.

    Offsets are exact (music21 keeps Fractions); ties become the ``tied`` flag of
    the continuing note; fermatas are kept; grace notes and unpitched notes are
    left out (they have no duration or no pitch).
    """
    from music21 import stream

    parts = list(music.parts) if isinstance(music, stream.Score) and music.parts else [music]
    rows: list[tuple[int, int, int, int, bool, bool]] = []
    names: list[str] = []
    for index, part in enumerate(parts):
        names.append(_part_name(part, index))
        for element in part.flatten().notes:
            if element.duration.isGrace:
                continue
            onset = _ticks(element.offset)
            duration = max(_ticks(element.quarterLength), 1)
            tied = element.tie is not None and element.tie.type in ("stop", "continue")
            fermata = any("Fermata" in e.classes for e in element.expressions)
            for p in getattr(element, "pitches", ()):
                rows.append((onset, duration, int(round(p.ps)), index, tied, fermata))
    notes = empty_notes(len(rows))
    if rows:
        onset, duration, pitch, part, tied, fermata = (np.array(c) for c in zip(*rows))
        notes = make_notes(
            onset=onset, duration=duration, pitch=pitch, part=part, tied=tied, fermata=fermata
        )
    reference = parts[0].flatten() if parts else music
    return Score(
        notes=notes,
        parts=names,
        key=_music21_key(reference),
        time_signatures=_music21_meters(reference),
        tempos=_music21_tempos(reference),
        title=title or (music.metadata.title if music.metadata and music.metadata.title else ""),
    )


def _part_name(part: Any, index: int) -> str:
    name = part.partName or (part.id if isinstance(part.id, str) else "")
    return str(name).strip() or f"Part {index + 1}"


def _ticks(quarters: Fraction | float) -> int:
    return int(round(Fraction(quarters) * DEFAULT_TPQ))


def _music21_meters(flat: Any) -> list[TimeSignature]:
    found = [
        TimeSignature(_ticks(ts.offset), ts.numerator, ts.denominator)
        for ts in flat.getElementsByClass("TimeSignature")
    ]
    return found or [TimeSignature(0, 4, 4)]


def _music21_tempos(flat: Any) -> list[tuple[int, float]]:
    tempos = []
    for mark in flat.getElementsByClass("MetronomeMark"):
        qpm = mark.getQuarterBPM()
        if qpm:
            tempos.append((_ticks(mark.offset), float(qpm)))
    return tempos or [(0, 120.0)]


def _music21_key(flat: Any) -> Key | None:
    for ks in flat.getElementsByClass("KeySignature"):
        mode = getattr(ks, "mode", None)
        if mode in ("major", "minor"):
            return Key(ks.tonic.pitchClass, mode)
        return _key_from_sharps(ks.sharps, "major")
    return None


def _key_from_sharps(sharps: int, mode: str) -> Key:
    from cadenza.io.symusic_score import key_from_sharps

    return key_from_sharps(sharps, mode)


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0][:200] if text else type(err).__name__
