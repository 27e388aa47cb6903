"""Generating piano rolls: new pieces and continuations, for both piano-roll layouts.

A frame model (``inputs = "frames"``) is sampled frame by frame with one Bernoulli per
pitch (temperature on the logits); a language model over rising pitch tokens is sampled
with the usual decoder, constrained to rising pitches within a frame
(:class:`RisingPitches`) and stopped after a number of frames (:class:`FrameBudget`).
Both return rolls ``[frames, pitches]``, which the codec turns into Scores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from cadenza.codecs.pianoroll import frame_mask
from cadenza.errors import CadenzaError, ConfigError
from cadenza.generate.processors import Context, LogitsProcessor


class RisingPitches:
    """Within a frame only higher pitches (or the delimiter) may follow a pitch: the
    constraint the rising-pitch token models were trained and scored under."""

    def __init__(self, vocab: Any, codec: Any) -> None:
        pitch = [codec.pitch_of_code(int(c)) if c >= 0 else None for c in vocab.codes]
        self.ranks = torch.tensor([-2 if p is None else p for p in pitch])
        self.frame = vocab.role_id("frame")

    def __call__(self, logits: Tensor, context: Context) -> Tensor:
        last = context.ids[:, -1:]  # [B, 1]
        allowed = frame_mask(self.ranks, self.frame, last)[:, 0]  # [B, V]
        return logits.masked_fill(~allowed.to(logits.device), float("-inf"))


@dataclass
class FrameBudget:
    """Ends a row once it holds ``frames`` frames (prompt included)."""

    frame: int
    frames: int
    name: str = "frame_budget"

    def __call__(self, logits: Tensor, context: Context) -> Tensor:
        return logits

    def init_state(self, batch_size: int) -> Tensor:
        return torch.zeros(batch_size, dtype=torch.long)

    def advance(self, state: Tensor, tokens: Tensor) -> Tensor:
        return state + (tokens.cpu() == self.frame).long()

    def select_state(self, state: Tensor, index: Tensor) -> Tensor:
        return state[index.cpu()]

    def finished(self, state: Tensor) -> Tensor:
        return state >= self.frames


def extend(run: Any, primer: np.ndarray, frames: int, n: int = 1, temperature: float = 1.0,
           processors: list[LogitsProcessor] | None = None,
           seed: int | None = None) -> list[np.ndarray]:
    """``n`` continuations of ``primer`` (a roll ``[k, pitches]``, possibly empty) by
    ``frames`` new frames each; returns the new frames only, ``[frames, pitches]``."""
    if frames < 1:
        raise ConfigError(f"the continuation needs at least one frame, got {frames}")
    if not (temperature > 0 and np.isfinite(temperature)):
        raise ConfigError(f"temperature must be a positive number, got {temperature}")
    if seed is not None:
        torch.manual_seed(seed)
    if run.model.inputs == "frames":
        return _sample_frames(run.model, primer, frames, n, temperature)
    return _sample_tokens(run, primer, frames, n, temperature, processors or [])


@torch.inference_mode()
def _sample_frames(model: Any, primer: np.ndarray, frames: int, n: int,
                   temperature: float) -> list[np.ndarray]:
    """Bernoulli sampling, one frame at a time, from a frame model."""
    width = model.vocab_size
    device = next(model.parameters()).device
    start = np.zeros((1, width), np.float32)  # the silent frame that stands for START
    prompt = torch.from_numpy(np.concatenate([start, primer.astype(np.float32)]))
    logits, state = model(prompt[None].repeat(n, 1, 1).to(device))
    logits = logits[:, -1]
    out = torch.zeros(n, frames, width)
    for t in range(frames):
        frame = torch.bernoulli(torch.sigmoid(logits.float() / temperature)).cpu()
        out[:, t] = frame
        if t + 1 < frames:
            logits, state = model.step(frame.to(device), state)
    return [row.numpy().astype(np.uint8) for row in out]


def _sample_tokens(run: Any, primer: np.ndarray, frames: int, n: int, temperature: float,
                   processors: list[LogitsProcessor]) -> list[np.ndarray]:
    """Rising-pitch tokens from a language model, stopped after ``frames`` new frames."""
    from cadenza.generate.decode import sample
    from cadenza.generate.processors import build_processor

    codec, vocab = run.codec, run.vocab
    codes = codec.roll_to_codes(primer)
    missing = sorted({int(c) for c in codes} - {int(c) for c in vocab.codes})
    if missing:
        names = ", ".join(codec.token_name(c) for c in missing[:5])
        raise CadenzaError(f"the primer holds pitches this model never saw ({names})")
    prompt = vocab.encode(codes).tolist()
    chain: list[Any] = [RisingPitches(vocab, codec)]
    if temperature != 1.0:
        chain.append(build_processor("temperature", temperature))
    chain += processors
    chain.append(FrameBudget(vocab.role_id("frame"), len(primer) + frames))
    limit = len(prompt) + frames * (codec.pitches + 1) + 2
    rows = sample(run.model, vocab, n=n, processors=chain, max_tokens=limit,
                  prompt_ids=prompt, grammar=None)
    rolls = [codec.codes_to_roll(vocab.decode(ids)) for ids in rows]
    return [_fit(roll[len(primer):], frames, codec.pitches) for roll in rolls]


def _fit(roll: np.ndarray, frames: int, width: int) -> np.ndarray:
    out = np.zeros((frames, width), np.uint8)
    out[:min(frames, len(roll))] = roll[:frames]
    return out


# -- baselines and scores ------------------------------------------------------------
def repeat_last(primer: np.ndarray, frames: int) -> np.ndarray:
    """The baseline that holds the primer's last frame (silence after an empty primer)."""
    last = primer[-1] if len(primer) else np.zeros(primer.shape[1], np.uint8)
    return np.repeat(last[None], frames, axis=0)


def silence(primer: np.ndarray, frames: int) -> np.ndarray:
    """The baseline that predicts nothing sounding."""
    return np.zeros((frames, primer.shape[1]), np.uint8)


def frame_scores(guess: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Mean absolute error over frames x pitches and the note F1 of the frames
    (2 TP / (2 TP + FP + FN); 1.0 when both are silent)."""
    g, t = guess > 0, truth > 0
    tp, fp, fn = int((g & t).sum()), int((g & ~t).sum()), int((~g & t).sum())
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0
    return {"mae": float(np.abs(g.astype(np.float32) - t).mean()), "f1": f1}
