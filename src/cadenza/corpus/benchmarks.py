"""The four polyphonic benchmark corpora, shipped in the package with their splits.

JSB Chorales, Nottingham, MuseData and Piano-midi.de as preprocessed by
Boulanger-Lewandowski, Bengio and Vincent, "Modeling Temporal Dependencies in
High-Dimensional Sequences: Application to Polyphonic Music Generation and
Transcription" (ICML 2012); the MATLAB files are the copies redistributed with the
TCN benchmark code of Bai, Kolter and Koltun (2018). Each piece is a binary
``[frames, 88]`` roll, column 0 = MIDI 21 (``corpus/polyphonic/README.md``).

The corpora carry no meter or tempo. cadenza writes each piece once as a MIDI file
(one frame = one quarter note at 120 bpm: only notation and playback speed depend on
that choice, never a likelihood) into the cache, with the published split, so the same
reader, cache and codecs serve them as any folder of MIDI files. Prepared with the
``pianoroll`` codec at ``steps_per_quarter = 1`` the rolls come back exactly.
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from cadenza.errors import ConfigError

BENCHMARKS = {
    "jsb": "JSB_Chorales.mat",
    "nottingham": "Nottingham.mat",
    "musedata": "MuseData.mat",
    "piano-midi": "Piano_midi.mat",
}
SPLIT_KEYS = {"train": "traindata", "validation": "validdata", "test": "testdata"}
FORMAT = 1  # bump when the written MIDI changes, so caches are rebuilt

# What a benchmark corpus is prepared with unless the user says otherwise: the rolls
# as they are (no key normalisation, no meter or part filter, no requantisation).
DATA_DEFAULTS: dict[str, Any] = {
    "codec": "pianoroll",
    "codec_options": {"steps_per_quarter": 1},
    "preprocess": {"meter": None, "satb": False, "normalize_key": False, "quantize": 0},
}


def rolls(name: str) -> dict[str, list[np.ndarray]]:
    """The pieces of a benchmark corpus by split: ``[frames, 88]`` uint8 rolls."""
    from scipy.io import loadmat

    if name not in BENCHMARKS:
        raise ConfigError(f"unknown benchmark corpus {name!r}; choose from "
                          f"{', '.join(BENCHMARKS)}")
    with resources.as_file(resources.files("cadenza.corpus").joinpath(
            "polyphonic", BENCHMARKS[name])) as path:
        data = loadmat(str(path))
    return {split: [np.asarray(p, dtype=np.uint8) for p in data[key][0]]
            for split, key in SPLIT_KEYS.items()}


def benchmark_folder(name: str, cache: Path) -> Path:
    """The corpus as MIDI files under ``cache`` (written once): ``split/NNNN.mid`` plus
    ``split.json`` mapping every file to its published split."""
    from cadenza.codecs.pianoroll import PianoRollCodec
    from cadenza.io.write import midi_bytes

    folder = cache / "corpora" / f"{name}-v{FORMAT}"
    if (folder / "split.json").exists():
        return folder
    work = folder.with_name(f".{folder.name}.partial-{os.getpid()}")
    codec = PianoRollCodec(steps_per_quarter=1, layout="roll", sustain=False)
    split: dict[str, str] = {}
    for part, pieces in rolls(name).items():
        (work / part).mkdir(parents=True, exist_ok=True)
        for number, roll in enumerate(pieces):
            piece_id = f"{part}/{number:04d}.mid"
            score = codec.roll_to_score(roll).replace(title=f"{name} {part} {number}")
            (work / piece_id).write_bytes(midi_bytes(score))
            split[piece_id] = part
    (work / "split.json").write_text(json.dumps(split, indent=1))
    folder.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(work, folder)
    except OSError:  # another process wrote it first
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return folder


def fixed_split(folder: Path) -> dict[str, str] | None:
    """The published split of a folder that carries ``split.json``, else None."""
    path = folder / "split.json"
    return json.loads(path.read_text()) if path.is_file() else None
