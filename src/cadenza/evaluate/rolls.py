"""Piano-roll measures: baselines' likelihoods and teacher-forced next-frame guesses.

The two baselines of the polyphonic benchmark (BENCHMARKS.md §5) as probabilistic
models, so that they have a likelihood beside the models' (the deterministic versions
would score minus infinity on the first changed note):

- **repeat**: every pitch keeps its previous state; p(on | on before) and
  p(on | off before) are counted on the training frames (a two-state Markov chain per
  frame, shared by all pitches);
- **silence**: every pitch is off with the training frames' overall rate.

Frame accuracy is Bay et al.'s TP / (TP + FP + FN); F1 is 2 TP / (2 TP + FP + FN).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from cadenza.data.dataset import PreparedDataset


def frames_of(dataset: PreparedDataset, split: str) -> list[np.ndarray]:
    """Each piece of ``split`` (originals only) as a binary roll."""
    if dataset.main.kind != "tokens":
        return [np.asarray(dataset.tokens(i)) > 0 for i in dataset.indices(split, False)]
    codec, vocab = dataset.codec, dataset.vocab
    return [codec.codes_to_roll(vocab.decode(dataset.tokens(i))) > 0
            for i in dataset.indices(split, False)]


def baseline_scores(train: list[np.ndarray], test: list[np.ndarray]) -> dict[str, dict]:
    """NLL (nats per frame) and frame accuracy of the repeat and silence baselines."""
    before = np.concatenate([np.vstack([np.zeros((1, r.shape[1]), bool), r[:-1]])
                             for r in train])
    now = np.concatenate(train)
    p_on_on = (now & before).sum() / max(before.sum(), 1)
    p_on_off = (now & ~before).sum() / max((~before).sum(), 1)
    p_on = now.mean()
    out = {}
    for name in ("repeat", "silence"):
        nll, tp, fp, fn, frames = 0.0, 0, 0, 0, 0
        for roll in test:
            prev = np.vstack([np.zeros((1, roll.shape[1]), bool), roll[:-1]])
            p = np.where(prev, p_on_on, p_on_off) if name == "repeat" else np.full(
                roll.shape, p_on)
            p = np.clip(p, 1e-9, 1 - 1e-9)
            nll -= float(np.where(roll, np.log(p), np.log1p(-p)).sum())
            guess = prev if name == "repeat" else np.zeros_like(roll)
            tp += int((guess & roll).sum())
            fp += int((guess & ~roll).sum())
            fn += int((~guess & roll).sum())
            frames += len(roll)
        out[name] = {"nats_per_frame": nll / frames, **_accuracy(tp, fp, fn)}
    return out


def _accuracy(tp: int, fp: int, fn: int) -> dict[str, float]:
    return {"frame_accuracy": tp / max(tp + fp + fn, 1), "f1": 2 * tp / max(2 * tp + fp + fn, 1)}


@torch.inference_mode()
def next_frame_guesses(run: Any, dataset: PreparedDataset, split: str) -> dict[str, float]:
    """Teacher-forced next-frame prediction: the model sees the true past and names the
    next frame (pitches with p > 0.5 for a frame model; greedy rising pitches for a
    token model). Returns frame accuracy and F1 over every frame of ``split``."""
    tp = fp = fn = 0
    for truth, guess in zip(frames_of(dataset, split), _guesses(run, dataset, split)):
        tp += int((guess & truth).sum())
        fp += int((guess & ~truth).sum())
        fn += int((~guess & truth).sum())
    return _accuracy(tp, fp, fn)


def _guesses(run: Any, dataset: PreparedDataset, split: str):
    model = run.model.eval()
    if model.inputs == "frames":
        for roll in frames_of(dataset, split):
            x = torch.from_numpy(np.vstack([np.zeros((1, roll.shape[1])), roll[:-1]]))
            yield (model(x[None].float())[0][0] > 0).numpy()
        return
    for i in dataset.indices(split, False):
        yield _greedy_frames(run, np.asarray(dataset.tokens(i), dtype=np.int64))


def _greedy_frames(run: Any, ids: np.ndarray, max_notes: int = 16) -> np.ndarray:
    """For each frame of a token piece, the greedy rising-pitch frame from the state
    after the true frames before it (all frames decoded at once, as a batch)."""
    from cadenza.generate.pianoroll import RisingPitches
    from cadenza.generate.processors import Context

    vocab, codec, model = run.vocab, run.codec, run.model
    frame = vocab.role_id("frame")
    ends = np.nonzero(ids == frame)[0]
    starts = np.concatenate([[0], ends[:-1]])  # the token before each frame's first
    states, logits, state = [], [], None
    position = 0
    for start in starts:  # read the true tokens up to each frame's start
        out, state = model(torch.from_numpy(ids[position:start + 1])[None], state)
        states.append(state)
        logits.append(out[:, -1])
        position = start + 1
    state = tuple(torch.cat([s[k] for s in states], dim=1) for k in range(len(states[0])))
    logits = torch.cat(logits)  # [F, V]
    last = torch.from_numpy(ids[starts])[:, None]
    rising = RisingPitches(vocab, codec)
    roll = np.zeros((len(starts), codec.pitches), bool)
    open_rows = torch.ones(len(starts), dtype=torch.bool)
    for _ in range(max_notes + 1):
        chosen = rising(logits.float(), Context(last)).argmax(-1)  # [F]
        open_rows &= chosen != frame
        pitch = torch.tensor([codec.pitch_of_code(int(vocab.codes[c])) or 0 for c in chosen])
        rows = torch.nonzero(open_rows).squeeze(1)
        roll[rows.numpy(), (pitch[rows] - codec.lowest).numpy()] = True
        if not open_rows.any():
            break
        logits, state = model.step(chosen, state)
        last = chosen[:, None]
    return roll
