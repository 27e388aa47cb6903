"""The harmonizers' voices × 16th-notes grid: one cell per voice per frame.

A cell is what one voice does in one 16th-note frame: ``REST``, or the chorale codec's
(pitch, tied-from-previous-frame) token as ``1 + 2 * pitch + tied``. The grid maps one
to one onto BachBot's tokens of each voice, so token and frame error rates are cell
comparisons. ``MASK`` (an input only) hides a cell from the infilling model.

The infilling objective reads chorale datasets through this grid; a model built for it
is built from :data:`GRID_SPEC` (``voices`` cells per frame, ``CLASSES`` values each).
"""

from __future__ import annotations

import numpy as np

from cadenza.codecs.chorale import VOICE_NAMES
from cadenza.codecs.spec import CodecSpec, FieldSpec
from cadenza.evaluate.voiceleading import frame_grid
from cadenza.score import DEFAULT_TPQ, Score, TimeSignature, make_notes

REST = 0
CLASSES = 1 + 2 * 128  # rest, then (pitch, tied) as 1 + 2 * pitch + tied
MASK = CLASSES  # input only
FRAMES_PER_BAR = 16
VOICES = 4

GRID_SPEC = CodecSpec((FieldSpec("cells", "grid", "int64", (VOICES,)),
                       FieldSpec("fermata", "frames", "bool", ())))
"""What the infilling model reads: per 16th-note frame one cell per voice, and whether
a fermata sits on the frame."""


def cell_code(pitch: int, tied: bool) -> int:
    return 1 + 2 * pitch + int(tied)


def score_to_grid(score: Score, steps_per_quarter: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """``cells[V, F]`` (int64) and ``fermata[F]`` (bool) of a quantized score."""
    pitch, starts = frame_grid(score, steps_per_quarter)
    cells = np.where(pitch >= 0, 1 + 2 * pitch.astype(np.int64) + (~starts), REST)
    grid = score.tpq // steps_per_quarter
    fermata = np.zeros(pitch.shape[1], dtype=bool)
    marked = score.notes[score.notes["fermata"]]
    fermata[np.minimum(marked["onset"] // grid, max(len(fermata) - 1, 0))] = True
    return cells.astype(np.int64), fermata


def grid_to_score(cells: np.ndarray, fermata: np.ndarray, steps_per_quarter: int = 4,
                  names: tuple[str, ...] = VOICE_NAMES) -> Score:
    """The score a grid describes; a tie that continues nothing starts a new note."""
    grid = DEFAULT_TPQ // steps_per_quarter
    rows = []
    for voice, line in enumerate(np.asarray(cells)):
        start, held = 0, None  # held: pitch of the note sounding now
        for frame, cell in enumerate(list(line) + [REST]):
            cell = int(cell)
            pitch = (cell - 1) // 2 if cell not in (REST, MASK) else None
            tied = pitch is not None and (cell - 1) % 2 == 1
            continues = tied and held == pitch and not (frame < len(fermata) and fermata[frame])
            if held is not None and not continues:
                rows.append((start * grid, (frame - start) * grid, held, voice,
                             bool(fermata[start]) if start < len(fermata) else False))
                held = None
            if pitch is not None and not continues:
                start, held = frame, pitch
    columns = list(zip(*rows)) if rows else [[]] * 5
    notes = make_notes(
        onset=np.array(columns[0], dtype=np.int64), duration=np.array(columns[1], dtype=np.int64),
        pitch=np.array(columns[2], dtype=np.int64), part=np.array(columns[3], dtype=np.int64),
        fermata=np.array(columns[4], dtype=bool),
    )
    return Score(notes=notes, parts=list(names[: len(cells)]),
                 time_signatures=[TimeSignature(0, 4, 4)])


def transpose_cells(cells: np.ndarray, shift: int) -> np.ndarray:
    """Cells moved by ``shift`` semitones (rests stay rests)."""
    return np.where(cells != REST, cells + 2 * shift, REST)
