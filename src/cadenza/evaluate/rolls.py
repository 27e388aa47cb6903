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
def next_frame_guesses(run: Any, dataset: PreparedDataset, split: str,
                       samples: int = 0) -> dict[str, float]:
    """Teacher-forced next-frame prediction: the model sees the true past and names the
    next frame: the pitches with p > 0.5 for a frame model; for a token model the
    greedy rising pitches, or with ``samples`` the pitches found in at least half of
    that many frames drawn from the model (its marginals, estimated: the choice that
    maximises the expected number of correct pitches). Returns frame accuracy and F1
    over every frame of ``split``."""
    tp = fp = fn = 0
    guesses = _guesses(run, dataset, split, samples)
    for truth, guess in zip(frames_of(dataset, split), guesses):
        tp += int((guess & truth).sum())
        fp += int((guess & ~truth).sum())
        fn += int((~guess & truth).sum())
    return _accuracy(tp, fp, fn)


def _guesses(run: Any, dataset: PreparedDataset, split: str, samples: int = 0):
    model = run.model.eval()
    if model.inputs == "frames":
        for roll in frames_of(dataset, split):
            x = torch.from_numpy(np.vstack([np.zeros((1, roll.shape[1])), roll[:-1]]))
            yield (model(x[None].float())[0][0] > 0).numpy()
        return
    for i in dataset.indices(split, False):
        yield _token_frames(run, np.asarray(dataset.tokens(i), dtype=np.int64), samples)


def _token_frames(run: Any, ids: np.ndarray, samples: int = 0,
                  max_notes: int = 16) -> np.ndarray:
    """For each frame of a token piece, the frame named from the state after the true
    frames before it: greedy, or the majority of ``samples`` drawn frames (all frames,
    and all draws, decoded at once as a batch)."""
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
    draws = max(samples, 1)
    state = tuple(torch.cat([s[k] for s in states], dim=1).repeat_interleave(draws, dim=1)
                  for k in range(len(states[0])))
    logits = torch.cat(logits).repeat_interleave(draws, dim=0)  # [F * draws, V]
    last = torch.from_numpy(ids[starts]).repeat_interleave(draws)[:, None]
    rising = RisingPitches(vocab, codec)
    pitch_of = torch.tensor([(codec.pitch_of_code(int(c)) or codec.lowest) - codec.lowest
                             if c >= 0 else 0 for c in vocab.codes])
    counts = np.zeros((len(starts) * draws, codec.pitches), np.int32)
    open_rows = torch.ones(len(last), dtype=torch.bool)
    for _ in range(max_notes + 1):
        allowed = rising(logits.float(), Context(last))
        chosen = (torch.multinomial(allowed.softmax(-1), 1)[:, 0] if samples
                  else allowed.argmax(-1))
        open_rows &= chosen != frame
        rows = torch.nonzero(open_rows).squeeze(1)
        counts[rows.numpy(), pitch_of[chosen[rows]].numpy()] += 1
        if not open_rows.any():
            break
        logits, state = model.step(chosen, state)
        last = chosen[:, None]
    share = counts.reshape(len(starts), draws, codec.pitches).mean(axis=1)
    return share >= 0.5
