"""Several output heads read from one hidden state, kept as one tensor.

A multi-head model returns its heads side by side in one ``[B, T, sum(sizes)]`` tensor
(the :class:`~cadenza.models.base.SequenceModel` contract stays "logits out"), and
:func:`split_heads` cuts it back into one slice per head. A head of size 1 is a
regression head (a predicted value); a wider head holds the logits of a categorical
distribution over that many classes.
"""

from __future__ import annotations

from torch import Tensor, nn


class Heads(nn.Linear):
    """Every head's linear layer over the same features, as one matrix (one matmul
    instead of six); ``sizes`` says where each head's outputs lie."""

    def __init__(self, width: int, sizes: tuple[int, ...]) -> None:
        super().__init__(width, sum(sizes))
        self.sizes = tuple(int(s) for s in sizes)


def split_heads(out: Tensor, sizes: tuple[int, ...]) -> list[Tensor]:
    """The slice of each head in ``out`` [..., sum(sizes)] (size-1 heads squeezed)."""
    parts = out.split(list(sizes), dim=-1)
    return [p[..., 0] if size == 1 else p for p, size in zip(parts, sizes)]


def is_regression(size: int) -> bool:
    return size == 1
