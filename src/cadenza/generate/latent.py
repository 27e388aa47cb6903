"""Use a trained segment VAE: sample from the prior, reconstruct, interpolate.

Tensors in, arrays out; reading files and writing outputs is the commands' job. A
piece longer than one segment is cut into consecutive segments (the last padded with
silence) and put back together; the frame values are the codec's model values (notes
as 0/1 for rolls, normalised dB for mel).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from cadenza.errors import CadenzaError
from cadenza.evaluate.latent import slerp

SAMPLING = "sampling.json"  # a run's chosen note threshold for prior samples


def segments_of(frames: np.ndarray, steps: int, pad: float = 0.0) -> np.ndarray:
    """``[N, W]`` frames -> ``[ceil(N / steps), steps, W]``, the tail padded with ``pad``."""
    frames = np.asarray(frames, dtype=np.float32)
    count = max(1, -(-len(frames) // steps))
    out = np.full((count * steps, frames.shape[1]), pad, dtype=np.float32)
    out[:len(frames)] = frames
    return out.reshape(count, steps, frames.shape[1])


@torch.no_grad()
def encode(model: Any, segments: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior means and log-variances ``[N, D]`` of segments ``[N, T, W]``."""
    x = torch.as_tensor(np.asarray(segments, dtype=np.float32))
    if x.ndim != 3 or x.shape[1:] != (model.steps, model.width):
        raise CadenzaError(f"segments of shape {tuple(x.shape[1:])} do not fit the model "
                           f"({model.steps} steps x {model.width})")
    mu, logvar = model.encode(x)
    return mu, logvar


@torch.no_grad()
def decode(model: Any, z: torch.Tensor) -> np.ndarray:
    """Expected frames ``[N, T, W]`` (note probabilities, or model values) of ``z``."""
    return model.mean(model.decode(z)).float().numpy()


def reconstruct(model: Any, frames: np.ndarray, pad: float = 0.0) -> np.ndarray:
    """A whole piece's frames ``[N, W]`` through the VAE (posterior means), ``[N, W]``."""
    parts = segments_of(frames, model.steps, pad)
    mu, _ = encode(model, parts)
    return decode(model, mu).reshape(-1, model.width)[:len(frames)]


def sample(model: Any, n: int, seed: int = 0, temperature: float = 1.0) -> np.ndarray:
    """``n`` segments decoded from z ~ N(0, temperature^2 I): ``[n, T, W]``."""
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(n, model.latent, generator=generator) * temperature
    return decode(model, z)


def interpolate(model: Any, a: np.ndarray, b: np.ndarray, steps: int) -> np.ndarray:
    """``steps`` segments on the spherical path between the posterior means of segments
    ``a`` and ``b`` ``[T, W]``: ``[steps, T, W]``."""
    if steps < 2:
        raise CadenzaError("an interpolation needs at least 2 steps")
    mu, _ = encode(model, np.stack([a, b]))
    return decode(model, slerp(mu[0], mu[1], steps))


def notes(probabilities: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Note probabilities -> a binary uint8 roll."""
    return (np.asarray(probabilities) > threshold).astype(np.uint8)


def sampling_threshold(run_path: Any) -> float:
    """The note threshold a run's prior samples use (``sampling.json``), else 0.5."""
    from pathlib import Path

    from cadenza.safety import read_json

    path = Path(run_path) / SAMPLING
    if not path.exists():
        return 0.5
    value = read_json(path, dict).get("threshold", 0.5)
    if not isinstance(value, (int, float)) or not 0.0 < float(value) < 1.0:
        raise CadenzaError(f"{path}: threshold must be a number in (0, 1)")
    return float(value)
