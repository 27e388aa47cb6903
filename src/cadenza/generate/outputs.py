"""Write a generated score as MIDI, MusicXML, WAV and a piano-roll PNG side by side."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from cadenza.errors import ConfigError
from cadenza.score import Score

FORMATS = ("mid", "musicxml", "wav", "png")


def check_formats(formats: Iterable[str]) -> tuple[str, ...]:
    """The formats, checked; a bad name is a ConfigError naming the good ones."""
    formats = tuple(f.strip().lower().lstrip(".") for f in formats if f.strip())
    if not formats:
        raise ConfigError(f"no output format given; choose from {', '.join(FORMATS)}")
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise ConfigError(f"unknown output format(s) {', '.join(bad)}; "
                          f"choose from {', '.join(FORMATS)}")
    return formats


def write_outputs(score: Score, out_dir: str | Path, stem: str,
                  formats: Iterable[str] = FORMATS) -> dict[str, Path]:
    """Write ``out_dir/stem.<format>`` for each format; returns what was written.

    WAV needs a MIDI file and FluidSynth: without FluidSynth it is left out (with
    one notice) rather than failing.
    """
    from cadenza.io.atomic import staged

    formats = check_formats(formats)
    out = Path(out_dir)
    with staged(out) as stage:  # all of the piece's files, or none of them
        names = _write_all(score, stage, stem, formats)
    return {kind: out / name for kind, name in names.items()}


def _write_all(score: Score, out: Path, stem: str, formats: tuple[str, ...]) -> dict[str, str]:
    from cadenza.io import write_midi, write_musicxml
    from cadenza.io.audio import render_wav
    from cadenza.io.plot import piano_roll
    from cadenza.safety import about

    written: dict[str, Path] = {}
    midi = out / f"{stem}.mid"
    if "mid" in formats or "wav" in formats:
        with about(f"{stem}.mid", "cannot write"):
            write_midi(score, midi)
        if "mid" in formats:
            written["mid"] = midi
    if "musicxml" in formats:
        with about(f"{stem}.musicxml", "cannot write"):
            written["musicxml"] = write_musicxml(score, out / f"{stem}.musicxml")
    if "wav" in formats:
        wav = render_wav(midi, out / f"{stem}.wav")
        if wav is not None:
            written["wav"] = wav
        if "mid" not in formats:
            midi.unlink(missing_ok=True)
    if "png" in formats:
        with about(f"{stem}.png", "cannot write"):
            written["png"] = piano_roll(score, out / f"{stem}.png", title=stem)
    return {kind: path.name for kind, path in written.items()}
