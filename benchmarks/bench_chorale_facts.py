"""Facts of the prepared Bach chorales that the chorale grammar is built on
(``cadenza/generate/grammar.py`` cites them).

    python benchmarks/bench_chorale_facts.py [--data DATASET]

Without ``--data`` it prepares the embedded chorales with the default settings into the
cache (``$CADENZA_CACHE``). Prints the pieces and frames; the frames where a later voice
(in the codec's S, A, T, B order) sounds above an earlier one, and by how much at most;
the tied notes, and those that tie into a pitch the previous frame did not sound; and
the tokens of real Bach that the grammar refuses.
"""

from __future__ import annotations

import argparse

import torch

from cadenza.codecs.chorale import FIRST_NOTE
from cadenza.data.dataset import PreparedDataset
from cadenza.generate.grammar import ChoraleGrammar


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="prepared chorale dataset")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.data is None:
        from cadenza.corpus.prepare import embedded_dataset

        args.data = embedded_dataset()
    dataset = PreparedDataset(args.data)
    grammar = ChoraleGrammar(dataset.vocab)
    pieces = dataset.indices("train", False) + dataset.indices("validation", False) + \
        dataset.indices("test", False)
    frames = crossing = widest = tied = tied_elsewhere = refused = tokens = 0
    for index in pieces:
        ids = dataset.tokens(index)
        codes = dataset.vocab.decode(ids)
        previous: list[int] = []
        for _, notes in dataset.codec.frames(codes):
            pitches = [(c - FIRST_NOTE) // 2 for c in notes]
            frames += 1
            above = [p - min(pitches[:k]) for k, p in enumerate(pitches) if k and
                     p > min(pitches[:k])]
            if above:
                crossing += 1
                widest = max(widest, *above)
            for code, pitch in zip(notes, pitches):
                if (code - FIRST_NOTE) % 2:
                    tied += 1
                    tied_elsewhere += pitch not in previous
            previous = pitches
        state = grammar.init_state(1)
        for token in ids.tolist():
            refused += not bool(grammar.allowed(state)[0, token])
            state = grammar.advance(state, torch.tensor([token]))
            tokens += 1
    print(f"dataset {dataset.folder}: {len(pieces)} pieces, {frames:,} frames, "
          f"{tokens:,} tokens")
    print(f"frames with a later voice above an earlier one: {crossing:,} "
          f"({100 * crossing / frames:.1f}%), by up to {widest} semitones")
    print(f"tied notes: {tied:,}; tied into a pitch the previous frame did not sound: "
          f"{tied_elsewhere}")
    print(f"tokens of real Bach the grammar refuses: {refused}")


if __name__ == "__main__":
    main()
