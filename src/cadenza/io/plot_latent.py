"""Pictures of a VAE's outputs: a strip of piano rolls (an interpolation) and
spectrograms side by side (original, reconstruction, sample). matplotlib, Agg."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    return plt


def roll_strip(rolls: Sequence[np.ndarray], path: str | Path, titles: Sequence[str],
               lowest: int = 21, title: str = "") -> Path:
    """One PNG of binary rolls ``[T, P]`` side by side, each panel titled."""
    plt = _pyplot()
    path = Path(path)
    fig, axes = plt.subplots(1, len(rolls), figsize=(1.6 * len(rolls) + 1, 4), dpi=100,
                             sharey=True, squeeze=False)
    try:
        for ax, roll, name in zip(axes[0], rolls, titles):
            roll = np.asarray(roll)
            used = np.nonzero(roll.any(0))[0]
            ax.imshow(roll.T, origin="lower", aspect="auto", cmap="Greys", vmin=0, vmax=1,
                      interpolation="nearest", extent=(0, len(roll), lowest - 0.5,
                                                       lowest + roll.shape[1] - 0.5))
            ax.set_title(name, fontsize=8)
            ax.set_xlabel("step", fontsize=7)
            if len(used):
                ax.set_ylim(lowest + max(used.min() - 3, 0) - 0.5,
                            lowest + min(used.max() + 3, roll.shape[1] - 1) + 0.5)
        axes[0][0].set_ylabel("MIDI pitch")
        if title:
            fig.suptitle(title, fontsize=9)
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path


def spectrograms(panels: Sequence[tuple[str, np.ndarray]], path: str | Path,
                 seconds_per_frame: float, vmin: float = -100.0, vmax: float = 20.0) -> Path:
    """One PNG of log-mel spectrograms ``[frames, n_mels]`` (dB) side by side."""
    plt = _pyplot()
    path = Path(path)
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.4), dpi=100,
                             squeeze=False)
    try:
        image = None
        for ax, (name, db) in zip(axes[0], panels):
            db = np.asarray(db)
            image = ax.imshow(db.T, origin="lower", aspect="auto", cmap="magma", vmin=vmin,
                              vmax=vmax, extent=(0, len(db) * seconds_per_frame, 0,
                                                 db.shape[1]))
            ax.set_title(name, fontsize=9)
            ax.set_xlabel("seconds")
        axes[0][0].set_ylabel("mel band")
        if image is not None:
            fig.colorbar(image, ax=list(axes[0]), label="dB", shrink=0.9)
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path
