"""Generation speed on CPU with random-weight models (speed does not depend on training).

    python benchmarks/bench_generate.py [--runs 5] [--tokens 1057] [--threads 1]

Measures, as medians over ``--runs``:
1. one whole chorale at batch 1 with the BachBot LSTM (3 x 256) and the grammar
   (target <= 1 s);
2. 32 chorales in one batch, tokens per second (target >= 10,000);
3. a transformer (6 x 256) with its KV cache against re-running the whole prefix
   every step (target >= 5x).
``END`` is masked so every row runs the full length (1057 tokens: the mean chorale
in the prepared Bach data).

    python benchmarks/bench_generate.py --miditok RUN [--runs 3]

A trained MidiTok run instead (issue 14): its transformer with the key/value cache
against re-running the prefix, batch 1, at 256, 512 and 768 tokens (EOS masked;
target >= 5x).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from cadenza.codecs import Vocab, build_codec
from cadenza.codecs.chorale import note_code
from cadenza.generate.decode import Recompute, Windowed, sample
from cadenza.models import build_model


def bach_vocab() -> Vocab:
    codes = [note_code(p, tied) for p in range(31, 85) for tied in (False, True)]
    return Vocab.build(build_codec("chorale"), codes)


def timed(fn, runs: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=1057)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--transformer-tokens", type=int, default=512)
    parser.add_argument("--miditok", type=str, default=None, metavar="RUN")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.miditok:
        return miditok_cache(args)
    vocab = bach_vocab()
    end = vocab.id("END")
    no_end = [lambda logits, context: logits.index_fill(-1, torch.tensor([end]), -1e9)]
    n = args.tokens

    lstm = build_model("rnn", len(vocab)).eval()  # BachBot: LSTM 3 x 256, embedding 32
    one = timed(lambda: sample(lstm, vocab, 1, no_end, max_tokens=n, seed=0), args.runs)
    batch = timed(lambda: sample(lstm, vocab, 32, no_end, max_tokens=n, seed=0), args.runs)
    # the shipped default: the same LSTM with the frame-structure features
    featured = build_model("rnn", len(vocab), frame_features=True, start_token=vocab.id("START"),
                           frame_token=vocab.id("|||"), fermata_token=vocab.id("(.)")).eval()
    one_featured = timed(lambda: sample(featured, vocab, 1, no_end, max_tokens=n, seed=0),
                         args.runs)
    batch_featured = timed(lambda: sample(featured, vocab, 32, no_end, max_tokens=n, seed=0),
                           args.runs)

    transformer = build_model("transformer", len(vocab), max_context=1024).eval()
    t = args.transformer_tokens
    cached = timed(lambda: sample(transformer, vocab, 1, no_end, max_tokens=t, seed=0),
                   args.runs)
    recomputed = timed(
        lambda: sample(Recompute(transformer), vocab, 1, no_end, max_tokens=t, seed=0),
        max(1, args.runs // 2))

    rows = [
        ("LSTM 3x256, 1 chorale, batch 1", f"{n} tokens", f"{one:.3f} s",
         f"{n / one:,.0f} tok/s", "<= 1 s", one <= 1.0),
        ("LSTM 3x256, 32 chorales, batch 32", f"{32 * n} tokens", f"{batch:.3f} s",
         f"{32 * n / batch:,.0f} tok/s", ">= 10,000 tok/s", 32 * n / batch >= 10_000),
        ("LSTM + frame features, 1, batch 1", f"{n} tokens", f"{one_featured:.3f} s",
         f"{n / one_featured:,.0f} tok/s", "<= 1 s", one_featured <= 1.0),
        ("LSTM + frame features, 32, batch 32", f"{32 * n} tokens", f"{batch_featured:.3f} s",
         f"{32 * n / batch_featured:,.0f} tok/s", ">= 10,000 tok/s",
         32 * n / batch_featured >= 10_000),
        ("Transformer 6x256, KV cache", f"{t} tokens", f"{cached:.3f} s",
         f"{t / cached:,.0f} tok/s", "", None),
        ("Transformer 6x256, recompute prefix", f"{t} tokens", f"{recomputed:.3f} s",
         f"{t / recomputed:,.0f} tok/s", "", None),
        ("KV cache speed-up", "", f"{recomputed / cached:.1f}x", "", ">= 5x",
         recomputed / cached >= 5),
    ]
    print(f"torch {torch.__version__}, {args.threads} thread(s), median of {args.runs} runs")
    header = ("case", "length", "time", "speed", "target", "met")
    widths = [36, 14, 10, 16, 16, 4]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    for row in rows:
        met = "" if row[-1] is None else ("yes" if row[-1] else "NO")
        print("  ".join(str(c).ljust(w) for c, w in zip((*row[:-1], met), widths)))


def miditok_cache(args: argparse.Namespace) -> None:
    """KV cache against recompute for a trained MidiTok run, batch 1."""
    from cadenza.train.checkpoint import load_run

    run = load_run(args.miditok)
    end = run.vocab.role_id("eos")
    no_end = [lambda logits, context: logits.index_fill(-1, torch.tensor([end]), -1e9)]
    print(f"torch {torch.__version__}, {args.threads} thread(s), {args.miditok}, batch 1, "
          f"median of {args.runs} runs (recompute: of {max(1, args.runs // 2)})")
    print(f"{'tokens':>6}  {'KV cache':>9}  {'recompute':>9}  {'speed-up':>8}  target  met")
    for length in (256, 512, 768):
        cached = timed(lambda n=length: sample(run.model, run.vocab, 1, no_end,
                                               max_tokens=n, seed=0, grammar=None), args.runs)
        slow = timed(lambda n=length: sample(Windowed(run.model, cache=False), run.vocab, 1,
                                             no_end, max_tokens=n, seed=0, grammar=None),
                     max(1, args.runs // 2))
        ratio = slow / cached
        print(f"{length:>6}  {cached:>8.3f}s  {slow:>8.3f}s  {ratio:>7.1f}x  >= 5x   "
              f"{'yes' if ratio >= 5 else 'NO'}")


if __name__ == "__main__":
    main()
