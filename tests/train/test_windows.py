"""Training batches: TBPTT streams cover every piece once per epoch; random windows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from cadenza.data.dataset import PreparedDataset
from cadenza.data.windows import RandomWindows, TBPTTStreams


def test_tbptt_streams_cover_every_piece_once_with_resets(tiny_data) -> None:
    dataset = PreparedDataset(tiny_data)
    streams = TBPTTStreams(dataset, "train", batch_size=3, seq_len=32, seed=1)
    rebuilt: list[list[int]] = []
    for row in range(3):
        current: list[int] = []
        for w in range(streams.windows_per_epoch):
            batch = streams.batch(0, w)
            x, y, keep = batch.inputs[row], batch.targets[row], bool(batch.keep[row])
            if not keep and current:
                rebuilt.append(current)
                current = []
            if not keep and int(x[0]) == 0:
                continue  # an empty slot at the end of a row
            if not keep:
                current = [int(x[0])]
            both = x[1:] != 0
            assert torch.equal(x[1:][both], y[:-1][both])  # shifted by one
            current += [int(v) for v in y[y != 0]]
        if current:
            rebuilt.append(current)
    expected = sorted(dataset.tokens(i).tolist() for i in dataset.indices("train"))
    assert sorted(rebuilt) == expected


def test_tbptt_order_is_a_function_of_seed_and_epoch(tiny_data) -> None:
    dataset = PreparedDataset(tiny_data)
    a = TBPTTStreams(dataset, "train", 2, 32, seed=1)
    b = TBPTTStreams(dataset, "train", 2, 32, seed=1)
    assert torch.equal(a.batch(3, 5).inputs, b.batch(3, 5).inputs)
    firsts = {tuple(a.batch(epoch, 0).inputs[:, 1].tolist()) for epoch in range(6)}
    assert len(firsts) > 1  # pieces are shuffled across epochs
    assert a.windows_per_epoch == b.windows_per_epoch


def test_random_windows(tiny_data) -> None:
    dataset = PreparedDataset(tiny_data)
    windows = RandomWindows(dataset, "train", batch_size=8, seq_len=64, seed=0, start_fraction=0.5)
    batch = windows.batch(0, 0)
    assert batch.inputs.shape == (8, 64) and batch.keep is None
    assert torch.equal(batch.inputs[:, 1:], batch.targets[:, :-1])
    assert (batch.inputs[:, 0] == 1).any()  # some start at START
    assert torch.equal(windows.batch(2, 3).inputs, windows.batch(2, 3).inputs)
    train_tokens = sum(len(dataset.tokens(i)) - 1 for i in dataset.indices("train"))
    assert windows.windows_per_epoch == int(np.ceil(train_tokens / (8 * 64)))


def test_windows_can_leave_out_the_transposed_copies(tiny_data, tmp_path) -> None:
    from cadenza.config import DataConfig, PreprocessConfig
    from cadenza.corpus.prepare import prepare

    corpus = Path(tiny_data).parent / "midi"
    prepare(DataConfig(corpus=str(corpus), preprocess=PreprocessConfig(augment=[1, -1])),
            tmp_path / "aug", jobs=1, cache_dir=None, progress=False)
    dataset = PreparedDataset(tmp_path / "aug")
    originals = dataset.indices("train", augmented=False)
    assert len(dataset.indices("train")) == 3 * len(originals)
    for windows in (TBPTTStreams(dataset, "train", 2, 32, seed=0, augmented=False),
                    RandomWindows(dataset, "train", 2, 32, seed=0, augmented=False)):
        assert windows.pieces == originals
    assert TBPTTStreams(dataset, "train", 2, 32, seed=0).pieces == dataset.indices("train")
