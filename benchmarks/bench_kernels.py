"""Two CPU kernel choices the code makes, timed (``generate/decode.py`` and
``train/loop.py`` cite them).

    python benchmarks/bench_kernels.py [--threads 1] [--runs 5]

1. One-token LSTM steps of BachBot's model (3 x 256, embedding 32), as sampling runs
   them, with oneDNN (mkldnn) on and off, at batch 1 and 32: milliseconds per step.
2. One Adam step over BachBot's model's parameters (gradients set), PyTorch's default
   on CPU (a loop over the tensors) against the fused kernel: milliseconds per step.

Medians over ``--runs`` repetitions, random weights (speed does not depend on them).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from cadenza.models import build_model

VOCAB = 125  # the shipped chorale model's vocabulary


def lstm_step_ms(batch: int, onednn: bool, steps: int = 200) -> float:
    model = build_model("rnn", VOCAB, layers=3, hidden=256, embedding=32, dropout=0.0).eval()
    before = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = onednn
    try:
        with torch.inference_mode():
            state = model.init_state(batch)
            tokens = torch.ones(batch, dtype=torch.long)
            for _ in range(10):  # warm up
                _, state = model.step(tokens, state)
            started = time.perf_counter()
            for _ in range(steps):
                _, state = model.step(tokens, state)
            return (time.perf_counter() - started) / steps * 1000
    finally:
        torch.backends.mkldnn.enabled = before


def adam_step_ms(fused: bool, steps: int = 50) -> float:
    model = build_model("rnn", VOCAB, layers=3, hidden=256, embedding=32, dropout=0.0)
    for p in model.parameters():
        p.grad = torch.randn_like(p) * 1e-3
    # not fused: PyTorch's default, which on CPU is the per-tensor loop
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=fused)
    for _ in range(3):
        optimizer.step()
    started = time.perf_counter()
    for _ in range(steps):
        optimizer.step()
    return (time.perf_counter() - started) / steps * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s), median of {args.runs}")
    for batch in (1, 32):
        on = statistics.median(lstm_step_ms(batch, True) for _ in range(args.runs))
        off = statistics.median(lstm_step_ms(batch, False) for _ in range(args.runs))
        print(f"LSTM step, batch {batch:2d}: oneDNN {on:.3f} ms, plain {off:.3f} ms "
              f"({on / off:.1f}x)")
    plain = statistics.median(adam_step_ms(False) for _ in range(args.runs))
    fused = statistics.median(adam_step_ms(True) for _ in range(args.runs))
    print(f"Adam step: default {plain:.3f} ms, fused {fused:.3f} ms ({plain / fused:.1f}x)")


if __name__ == "__main__":
    main()
