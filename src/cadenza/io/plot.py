"""Pictures of scores: a piano roll, one colour per part (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path

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
