"""The objective contract: the loss, the held-out measure and its unit.

The training loop knows no loss. An objective turns a model and a batch into a loss to
minimise, draws the training batches its model needs, and scores held-out data in the
unit its field is reported in (nats per token, nats per frame, ...). A new system is a
codec, a model and an objective, never a new loop.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import torch

from cadenza.codecs.spec import CodecSpec
from cadenza.data.dataset import PreparedDataset
from cadenza.errors import ConfigError


class Batches(Protocol):
    """Training batches as a pure function of (epoch, index), so resume is exact."""

    windows_per_epoch: int
    carries_state: bool  # consecutive windows: the loop carries the model state across

    def batch(self, epoch: int, index: int) -> Any: ...


@dataclass
class StepLoss:
    """One batch: the mean loss to backpropagate, how many units it averages over
    (tokens, frames, cells), the model state after the batch (TBPTT), and named parts
    of the loss to log (per-head losses, detached), averaged over the same units."""

    loss: torch.Tensor
    count: int
    state: Any = None
    metrics: dict[str, torch.Tensor] | None = None


class Objective(ABC):
    """What a model is trained to do and how held-out data is scored."""

    name: ClassVar[str] = ""
    unit: str = "nats"
    # names of the StepLoss.metrics (and of the same held-out measures that evaluate
    # returns): logged as train_<name> and val_<name> columns, drawn in their own panel
    metric_names: tuple[str, ...] = ()
    # (rank, ranks): under DDP each process scores its share of the held-out items and
    # the loop all-reduces the sums (cadenza.train.distributed.reduce_result)
    share: tuple[int, int] = (0, 1)

    def __init__(self, dataset: PreparedDataset) -> None:
        self.dataset = dataset

    def my_share(self, items: list[Any]) -> list[Any]:
        """The held-out items (pieces, crops) this process scores: every ``ranks``-th."""
        rank, ranks = self.share
        return list(items)[rank::ranks]

    @classmethod
    def model_spec(cls, codec: CodecSpec) -> CodecSpec:
        """What the model reads, given the dataset codec's spec: the codec's own fields,
        unless the objective turns them into something else (``masked``: grids)."""
        return codec

    @abstractmethod
    def batches(self, split: str, train: Any) -> Batches:
        """Batches of ``split`` for the settings ``train`` (a TrainConfig)."""

    @abstractmethod
    def loss(self, model: torch.nn.Module, batch: Any, state: Any = None) -> StepLoss:
        """Forward one batch and return its loss (with the state to carry on).
        ``model`` may be a DistributedDataParallel wrapper, which lends the model's
        attributes; its forward must run once per loss (DDP hooks in there)."""

    @abstractmethod
    def evaluate(self, model: torch.nn.Module, split: str, batch_size: int = 16,
                 augmented: bool = True) -> dict[str, Any]:
        """Score ``split``: ``loss`` in ``unit`` (lower is better), ``unit``, ``count``
        (the units scored) and whatever else the objective measures."""


OBJECTIVES: dict[str, Callable[..., Objective]] = {}


def register_objective(name: str) -> Callable[[type], type]:
    def add(cls: type) -> type:
        cls.name = name
        OBJECTIVES[name] = cls
        return cls

    return add


def build_objective(name: str, dataset: PreparedDataset, **options: Any) -> Objective:
    """The registered objective ``name`` over ``dataset``."""
    if name not in OBJECTIVES:
        raise ConfigError(f"unknown objective {name!r}; choose from: "
                          f"{', '.join(sorted(OBJECTIVES))}")
    try:
        return OBJECTIVES[name](dataset, **options)
    except TypeError as err:
        raise ConfigError(f"objective {name!r}: {err}") from None


def model_spec(objective: str, codec: CodecSpec) -> CodecSpec:
    """The spec a model trained with ``objective`` is built from (``auto``: the codec's)."""
    cls = OBJECTIVES.get(objective)
    return codec if cls is None else cls.model_spec(codec)  # type: ignore[attr-defined]


def default_objective(dataset: PreparedDataset) -> str:
    """The objective a dataset's main field is trained with unless a config says."""
    return "next_token" if dataset.main.kind == "tokens" else "multilabel"
