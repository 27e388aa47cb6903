"""Render MIDI to WAV with the FluidSynth command-line program and a GM soundfont.

Audio is a convenience: when FluidSynth or the soundfont is missing, rendering
returns None and prints one notice (once per process) instead of failing.
Install both on Debian/Ubuntu with ``apt-get install fluidsynth fluid-soundfont-gm``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
_noticed = False


def _notice(message: str) -> None:
    global _noticed
    if not _noticed:
        print(f"cadenza: notice: {message}", file=sys.stderr)
        _noticed = True


def render_wav(midi_path: str | Path, wav_path: str | Path, soundfont: str | Path = SOUNDFONT,
               rate: int = 44100, timeout: float = 120.0) -> Path | None:
    """Render ``midi_path`` to ``wav_path``; None (and one notice) if it cannot."""
    program = shutil.which("fluidsynth")
    soundfont = Path(soundfont)
    if program is None or not soundfont.exists():
        missing = "fluidsynth" if program is None else f"the soundfont {soundfont}"
        _notice(f"no WAV written: {missing} is not installed "
                "(apt-get install fluidsynth fluid-soundfont-gm)")
        return None
    wav_path = Path(wav_path)
    # dynamic sample loading reads only the instruments a piece plays from the 148 MB
    # soundfont: the same samples out, in about half the time of loading all of it
    command = [program, "-ni", "-q", "-o", "synth.dynamic-sample-loading=1", "-F",
               str(wav_path), "-r", str(rate), str(soundfont), str(midi_path)]
    try:
        done = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        _notice(f"no WAV written: fluidsynth failed ({err})")
        return None
    if done.returncode != 0 or not wav_path.exists() or wav_path.stat().st_size == 0:
        reason = (done.stderr or b"").decode(errors="replace").strip().splitlines()
        _notice(f"no WAV written: fluidsynth failed ({reason[-1] if reason else done.returncode})")
        return None
    return wav_path
