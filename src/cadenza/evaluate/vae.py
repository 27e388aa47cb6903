"""Issue 15's measures of a trained VAE on held-out segments (BENCHMARKS.md §6).

Piano rolls: note F1 of reconstructions (z = the posterior mean, notes where p > 0.5;
over sounding cells, and over notes as pitch and onset),
active units, KL in nats per segment, the F1 drop under the z-shuffle test, the mean
overlapping area of five features of prior samples against the held-out segments, and
the share of interpolation steps moving monotonically away from the first end.

Mel: log-mel L1 in dB of reconstructions beside the mean-spectrogram predictor's,
active units, KL, and the multi-resolution STFT distance of Griffin-Lim audio from the
reconstruction beside Griffin-Lim on the true mel (the vocoder's ceiling).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from cadenza.data.dataset import PreparedDataset
from cadenza.data.segments import heldout_segments
from cadenza.evaluate import latent
from cadenza.generate.latent import decode, encode, interpolate, notes, sample


def posterior(model: Any, segments: np.ndarray, chunk: int = 256) -> tuple[torch.Tensor, ...]:
    parts = [encode(model, segments[i:i + chunk]) for i in range(0, len(segments), chunk)]
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


def decoded(model: Any, z: torch.Tensor, chunk: int = 256) -> np.ndarray:
    return np.concatenate([decode(model, z[i:i + chunk]) for i in range(0, len(z), chunk)])


def roll_measures(model: Any, segments: np.ndarray, threshold: float = 0.5,
                  pairs: int = 64, steps: int = 8, seed: int = 0,
                  steps_per_beat: int = 2) -> dict[str, Any]:
    """The piano-roll table's measures for ``segments`` ``[N, T, 88]`` (0/1)."""
    truth = segments > 0.5
    mu, logvar = posterior(model, segments)
    per_dim = latent.kl_per_dim(mu, logvar)
    rebuilt = decoded(model, mu) > 0.5
    f1, onsets = latent.note_f1(rebuilt, truth), latent.onset_f1(rebuilt, truth)
    shuffled = latent.note_f1(decoded(model, mu[latent.shuffled(len(mu), seed)]) > 0.5, truth)
    drawn = notes(sample(model, len(segments), seed), threshold)
    overlap = latent.feature_overlap(drawn, truth, steps_per_beat)
    rng = np.random.default_rng(seed)
    monotonic = [latent.monotonic_fraction(notes(interpolate(model, segments[i],
                                                             segments[j], steps)))
                 for i, j in rng.choice(len(segments), (pairs, 2))]
    return {"segments": len(segments), "f1": f1, "onset_f1": onsets,
            "active_units": latent.active_units(mu),
            "kl_nats": float(per_dim.sum()), "shuffle_drop": f1 - shuffled,
            "f1_shuffled": shuffled, "prior_overlap": overlap["mean"],
            "overlap": overlap, "interpolation_monotonic": float(np.mean(monotonic)),
            "threshold": threshold, "notes_per_step_samples": float(drawn.sum((1, 2)).mean()
                                                                    / segments.shape[1]),
            "notes_per_step_heldout": float(truth.sum((1, 2)).mean() / segments.shape[1])}


def choose_threshold(model: Any, segments: np.ndarray, seed: int = 1,
                     candidates: tuple[float, ...] = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5),
                     steps_per_beat: int = 2) -> tuple[float, dict[float, float]]:
    """The note threshold of prior samples whose features overlap ``segments`` (held-out
    validation data) the most; returns it and every candidate's mean overlap."""
    probabilities = sample(model, len(segments), seed)
    truth = segments > 0.5
    scores = {t: latent.feature_overlap(notes(probabilities, t), truth,
                                        steps_per_beat)["mean"] for t in candidates}
    return max(scores, key=scores.get), scores


def mel_measures(model: Any, dataset: PreparedDataset, split: str = "test",
                 limit: int = 1024) -> dict[str, Any]:
    """Log-mel L1 (dB) of reconstructions and of the training mean, AU, KL, z-shuffle."""
    codec = dataset.codec
    steps = model.steps
    held = heldout_segments(dataset, split, steps, limit)
    train_mean = heldout_segments(dataset, "train", steps, 2048).mean(0)
    mu, logvar = posterior(model, held)
    rebuilt = decoded(model, mu)
    other = decoded(model, mu[latent.shuffled(len(mu))])
    unit = codec.db_per_unit
    return {"segments": len(held), "l1_db": float(np.abs(rebuilt - held).mean()) * unit,
            "mean_predictor_l1_db": float(np.abs(train_mean[None] - held).mean()) * unit,
            "l1_db_shuffled": float(np.abs(other - held).mean()) * unit,
            "active_units": latent.active_units(mu),
            "kl_nats": float(latent.kl_per_dim(mu, logvar).sum())}


def mrstft_distance(reference: np.ndarray, estimate: np.ndarray,
                    sizes: tuple[int, ...] = (512, 1024, 2048)) -> float:
    """Multi-resolution STFT distance (Yamamoto et al., 2020): per FFT size (hop a
    quarter), spectral convergence plus mean |log magnitude difference|, averaged."""
    import librosa

    n = min(len(reference), len(estimate))
    total = 0.0
    for size in sizes:
        a = np.abs(librosa.stft(reference[:n], n_fft=size, hop_length=size // 4))
        b = np.abs(librosa.stft(estimate[:n], n_fft=size, hop_length=size // 4))
        convergence = np.linalg.norm(a - b) / max(np.linalg.norm(a), 1e-9)
        log_distance = np.abs(np.log(np.maximum(a, 1e-5)) - np.log(np.maximum(b, 1e-5))).mean()
        total += convergence + log_distance
    return total / len(sizes)


def griffin_lim_measures(model: Any, dataset: PreparedDataset, split: str = "test",
                         clips: int = 8, segments: int = 4) -> dict[str, float]:
    """MR-STFT distance to the rendered audio of Griffin-Lim from the VAE's
    reconstruction and from the true mel (the ceiling), over the first ``segments``
    segments of ``clips`` held-out pieces, re-rendered from their sources."""
    from cadenza.generate.latent import reconstruct
    from cadenza.io.read import read

    codec = dataset.codec
    frames = segments * model.steps
    vae, ceiling, used = [], [], 0
    for index in dataset.indices(split, augmented=False):
        if used == clips:
            break
        if len(dataset.tokens(index)) < frames:
            continue
        score = read(dataset.pieces[index]["source"])[0]
        audio = codec.render(score, codec.program_for(score))
        true_db = codec.to_db(codec.to_model(codec.quantize(codec.mel_db(audio))))[:frames]
        audio = audio[:(frames - 1) * codec.hop + 1]
        rebuilt_db = codec.to_db(reconstruct(model, codec.to_model(codec.quantize(true_db))))
        vae.append(mrstft_distance(audio, codec.audio(rebuilt_db)))
        ceiling.append(mrstft_distance(audio, codec.audio(true_db)))
        used += 1
    return {"clips": used, "mrstft_vae": float(np.mean(vae)) if vae else float("nan"),
            "mrstft_griffin_lim_ceiling": float(np.mean(ceiling)) if ceiling else float("nan")}
