"""Training speed: the full cadenza loop against a bare nn.LSTM + Adam loop.

Both train BachBot's model (3 x 256 LSTM, 32-dim embedding, dropout 0.3) on batches of
50 x 128 tokens with the hidden state carried across windows, on the same CPU threads,
in the same process, alternating repetitions so that machine load hits both alike.
Throughput is in token positions per second (batch x seq_len per step, the same shapes
for both); the cadenza loop also reports the share of positions that are padding (the
price of starting every piece on a fresh state). Peak RSS is the process's maximum.

    python benchmarks/bench_train_speed.py --data /tmp/ds1 [--reps 5] [--steps 40]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from cadenza.data.dataset import PreparedDataset
from cadenza.train.config import apply_overrides, load_preset
from cadenza.train.loop import train

LOG_EVERY = 5


def cadenza_rate(data: str, steps: int, threads: int, seed: int) -> tuple[float, float]:
    """Median positions/s over log intervals (after the first) and the scored share."""
    config = load_preset("bachbot")
    config.data = data
    config = apply_overrides(config, [
        f"train.max_steps={steps}", f"train.threads={threads}", "train.device=cpu",
        f"train.log_every={LOG_EVERY}", "train.eval_every=1000000", "train.epochs=1000",
        "train.progress=false", f"train.seed={seed}"])
    t = config.train
    stamps: list[float] = []
    scored: list[float] = []

    def hook(metrics: dict) -> None:
        if "train_loss" in metrics:
            stamps.append(time.perf_counter())
            scored.append(metrics["tokens_per_s"])

    with tempfile.TemporaryDirectory() as out:
        train(config, Path(out) / "run", hooks=[hook])
    positions = LOG_EVERY * t.batch_size * t.seq_len
    rates = [positions / (b - a) for a, b in zip(stamps[1:], stamps[2:])]
    share = statistics.median(s / r for s, r in zip(scored[2:], rates))
    return statistics.median(rates), share


def bare_rate(vocab: int, steps: int, threads: int, seed: int) -> float:
    """Median positions/s of a plain embedding + nn.LSTM + Linear loop with Adam."""
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    embed, lstm = nn.Embedding(vocab, 32), nn.LSTM(32, 256, 3, dropout=0.3, batch_first=True)
    head, drop = nn.Linear(256, vocab), nn.Dropout(0.3)
    params = [*embed.parameters(), *lstm.parameters(), *head.parameters()]
    optimizer = torch.optim.Adam(params, lr=2e-3)
    tokens = torch.randint(1, vocab, (50, 129))
    state, times = None, []
    for _ in range(steps):
        start = time.perf_counter()
        out, state = lstm(embed(tokens[:, :-1]), state)
        logits = head(drop(out))
        loss = F.cross_entropy(logits.flatten(0, 1), tokens[:, 1:].flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        state = tuple(s.detach() for s in state)
        loss.item()
        times.append(time.perf_counter() - start)
    return 50 * 128 / statistics.median(times[2:])


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="/tmp/ds1", help="prepared dataset (bach chorales)")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--steps", type=int, default=40, help="optimizer steps a repetition")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    vocab = len(PreparedDataset(args.data).vocab)
    bare, ours, shares, rss = [], [], [], {}
    for rep in range(args.reps):
        bare.append(bare_rate(vocab, args.steps, args.threads, rep))
        rss["bare"] = peak_rss_mib()
        rate, share = cadenza_rate(args.data, args.steps, args.threads, rep)
        ours.append(rate)
        shares.append(share)
        rss["cadenza"] = peak_rss_mib()
        print(f"rep {rep + 1}/{args.reps}: bare {bare[-1]:,.0f}  cadenza {rate:,.0f} positions/s")
    b, c = statistics.median(bare), statistics.median(ours)
    print(f"\nBachBot LSTM 3x256, emb 32, batch 50 x 128, {args.threads} threads, "
          f"median of {args.reps} reps x {args.steps} steps")
    print(f"{'loop':<22}{'positions/s':>14}{'ms/step':>10}{'peak RSS MiB':>15}")
    print(f"{'bare nn.LSTM + Adam':<22}{b:>14,.0f}{6400e3 / b:>10.1f}{rss['bare']:>15.0f}")
    print(f"{'cadenza train()':<22}{c:>14,.0f}{6400e3 / c:>10.1f}{rss['cadenza']:>15.0f}")
    print(f"ratio cadenza / bare: {c / b:.3f} (target >= 0.9); scored (non-padding) share of "
          f"cadenza positions: {statistics.median(shares):.3f}")


if __name__ == "__main__":
    main()
