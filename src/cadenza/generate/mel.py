"""Audio out of a mel VAE: reconstructions and prior samples as WAV (Griffin-Lim, via
the codec) and spectrogram PNGs, written together into ``--out``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from cadenza.codecs.mel import DB_FLOOR, DB_MID, DB_PER_UNIT, read_audio, write_wav
from cadenza.generate import latent

SILENCE = (DB_FLOOR - DB_MID) / DB_PER_UNIT  # model value of the floor: pads a last segment


def clip_frames(run: Any, path: Path) -> np.ndarray:
    """A clip's model values ``[frames, n_mels]`` on the run's mel settings (one line
    for a corrupt, silent or too short clip; a notice where it is resampled)."""
    from cadenza.errors import CadenzaError

    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise CadenzaError(f"{path}: cannot open: {err.strerror or err}") from None
    codec = run.codec
    samples = read_audio(data, str(path), codec.sample_rate, codec.max_seconds)
    return codec.to_model(codec.frames(samples, str(path)))


def reconstruct_file(run: Any, path: Path, out: Path, seed: int = 0) -> dict[str, Path]:
    """``STEM-original.wav`` (Griffin-Lim on the true mel: the vocoder's ceiling),
    ``STEM-reconstructed.wav``, ``STEM-sample.wav`` and ``STEM.png`` (the three
    spectrograms side by side)."""
    from cadenza.io.atomic import staged
    from cadenza.io.plot_latent import spectrograms

    codec, model = run.codec, run.model
    frames = clip_frames(run, path)
    rebuilt = latent.reconstruct(model, frames, pad=SILENCE)
    drawn = latent.sample(model, 1, seed)[0]
    original_db, rebuilt_db, drawn_db = (codec.to_db(v) for v in (frames, rebuilt, drawn))
    l1 = float(np.abs(original_db - rebuilt_db).mean())
    stem = Path(path).stem
    with staged(out) as stage:
        for name, db in (("original", original_db), ("reconstructed", rebuilt_db),
                         ("sample", drawn_db)):
            write_wav(stage / f"{stem}-{name}.wav", codec.audio(db), codec.sample_rate)
        spectrograms([("original", original_db), ("reconstruction", rebuilt_db),
                      (f"sample (seed {seed})", drawn_db)], stage / f"{stem}.png",
                     codec.hop / codec.sample_rate)
        names = sorted(p.name for p in stage.iterdir())
    print(f"{stem}: log-mel L1 of the reconstruction {l1:.2f} dB over {len(frames)} frames "
          f"-> {', '.join(str(out / n) for n in names)}")
    return {n: out / n for n in names}


def write_samples(run: Any, values: np.ndarray, out: Path) -> list[Path]:
    """``sample-NNN.wav`` per prior sample and ``samples.png``."""
    from cadenza.io.atomic import staged
    from cadenza.io.plot_latent import spectrograms

    codec = run.codec
    panels = []
    with staged(out) as stage:
        for index, value in enumerate(values, start=1):
            db = codec.to_db(value)
            write_wav(stage / f"sample-{index:03d}.wav", codec.audio(db), codec.sample_rate)
            panels.append((f"sample {index}", db))
        spectrograms(panels[:8], stage / "samples.png", codec.hop / codec.sample_rate)
        names = sorted(p.name for p in stage.iterdir())
    print(f"{len(values)} sample(s) -> {', '.join(str(out / n) for n in names)}")
    return [out / n for n in names]
