"""Pictures of scores: a piano roll, one colour per part (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cadenza.score import Score

PART_COLOURS = ("#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def piano_roll(score: Score, path: str | Path, title: str | None = None,
               width: float = 12.0, height: float = 4.0) -> Path:
    """Write a PNG piano roll of ``score``: time in quarter notes, MIDI pitch up."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.patches import Patch

    path = Path(path)
    fig, ax = plt.subplots(figsize=(width, height), dpi=100)
    try:
        merged = score.merge_ties()
        handles = []
        for index, name in enumerate(score.parts):
            notes = merged.part_notes(index)
            colour = PART_COLOURS[index % len(PART_COLOURS)]
            handles.append(Patch(color=colour, label=name))
            if not len(notes):
                continue
            ax.barh(notes["pitch"], notes["duration"] / score.tpq,
                    left=notes["onset"] / score.tpq, height=0.8, color=colour,
                    edgecolor="black", linewidth=0.3)
            fermatas = notes[notes["fermata"]]
            ax.plot(fermatas["onset"] / score.tpq, fermatas["pitch"] + 1.2, "v",
                    color=colour, markersize=4)
        ax.set_xlabel("quarter notes")
        ax.set_ylabel("MIDI pitch")
        ax.set_title(title if title is not None else score.title)
        if handles:
            ax.legend(handles=handles, loc="upper right", fontsize="small", ncol=len(handles))
        ax.margins(x=0.01)
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path


def roll_overlay(primer: Any, truth: Any, guess: Any, path: str | Path, lowest: int = 21,
                 title: str = "") -> Path:
    """A PNG laying a model's continuation over the true one: the primer in grey, then
    frames where only the truth sounds in blue, only the model in red, both in black."""
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np
    from matplotlib import pyplot as plt
    from matplotlib.patches import Patch

    primer, truth, guess = (np.asarray(a) > 0 for a in (primer, truth, guess))
    frames = len(primer) + max(len(truth), len(guess))
    image = np.ones((primer.shape[1], frames, 3))
    image[:, :len(primer)][primer.T] = (0.55, 0.55, 0.55)
    k = len(primer)
    later = np.zeros((primer.shape[1], frames - k, 2), bool)
    later[:, :len(truth), 0], later[:, :len(guess), 1] = truth.T, guess.T
    colours = {(True, False): (0.12, 0.47, 0.71), (False, True): (0.84, 0.15, 0.16),
               (True, True): (0.0, 0.0, 0.0)}
    for (t, g), colour in colours.items():
        image[:, k:][(later[..., 0] == t) & (later[..., 1] == g)] = colour
    used = np.nonzero(image.min(axis=(1, 2)) < 1)[0]
    low, high = (int(used.min()) - 2, int(used.max()) + 3) if len(used) else (0, len(image))
    low = max(low, 0)
    fig, ax = plt.subplots(figsize=(12, 4.5), dpi=100)
    try:
        ax.imshow(image[low:high], origin="lower", aspect="auto", interpolation="nearest",
                  extent=(0, frames, lowest + low - 0.5, lowest + high - 0.5))
        ax.axvline(k, color="black", linewidth=1, linestyle="--")
        ax.set_xlabel("frame")
        ax.set_ylabel("MIDI pitch")
        ax.set_title(title)
        ax.legend(handles=[Patch(color=(0.55, 0.55, 0.55), label="primer"),
                           Patch(color=colours[(True, False)], label="true only"),
                           Patch(color=colours[(False, True)], label="model only"),
                           Patch(color=colours[(True, True)], label="both")],
                  loc="upper left", fontsize="small", ncol=4)
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)
    return Path(path)
