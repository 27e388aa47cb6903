"""DistributedDataParallel for the one training loop, over any objective.

``torchrun --nproc_per_node=N -m cadenza train ...`` (or ``cadenza train --nproc N``)
starts N processes; :func:`init` joins them from torchrun's environment (gloo on CPU,
nccl on GPU). The loop stays loss-agnostic; this module adds what DDP needs around it:

- **Data.** ``train.batch_size`` is the *global* batch: every rank builds the rows of
  the same global batch that are its own, so all ranks take the same number of steps
  (uneven data cannot make one rank wait for ever) and N ranks train as one process
  would. Random windows are dealt out by PyTorch's ``DistributedSampler`` over the
  batch's rows; TBPTT streams go in contiguous blocks of rows, each rank carrying the
  hidden state of its own rows in the loop (never in registered buffers, which DDP
  would broadcast from rank 0).
- **Loss.** Each rank's mean loss is weighted by its share of the global units
  (tokens, frames, cells), so the averaged gradient is the global mean's, exactly.
  Gradient accumulation runs under ``no_sync``; training losses and validation sums
  are all-reduced.
- **Checkpoints.** Rank 0 writes them (atomically, :mod:`cadenza.train.checkpoint`)
  from the unwrapped model, so the weights carry no ``module.`` prefix and load in one
  process on CPU; every rank waits at a barrier. The dropout RNG is reseeded from
  (seed, rank, step) at every step, so a resume is exact with no per-rank RNG to save.
- **Elastic restarts** (``--max-restarts``): torchrun restarts every worker, and the
  train command resumes from the last checkpoint.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, is_dataclass, replace
from datetime import timedelta
from typing import Any, NoReturn

import numpy as np
import torch
from torch import distributed as dist

from cadenza.errors import ConfigError

ERROR = b"cadenza: error:"
TORCHRUN_LOG = re.compile(rb"^[EWI]\d{4} .*torch/distributed/")
STOP_REASONS = ("", "epochs", "early-stop", "max_steps", "max_minutes")


@dataclass(frozen=True)
class Ranks:
    """This process's place among the training processes (one process: rank 0 of 1)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        """Whether this process writes files (logs, checkpoints) and prints."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


SINGLE = Ranks()


def env_rank() -> int:
    """The rank torchrun gave this process (0 outside torchrun)."""
    return int(os.environ.get("RANK", "0"))


def restart_count() -> int:
    """How many times torchrun has restarted the workers (0: the first attempt)."""
    return int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))


def init(device_name: str = "auto", timeout_s: float = 600) -> Ranks:
    """Join the process group torchrun describes (``WORLD_SIZE`` > 1), or one already
    joined; else a single process. ``device_name`` as in ``train.device``."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if dist.is_available() and dist.is_initialized():
        world = dist.get_world_size()
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = _device(device_name, local if world > 1 else None)
    if world == 1:
        return Ranks(device=device)
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend, store=_store(world, timeout_s),
                                rank=env_rank(), world_size=world,
                                timeout=timedelta(seconds=timeout_s))
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return Ranks(dist.get_rank(), dist.get_world_size(), local, device)


def shutdown() -> None:
    """Leave the process group, if this process joined one."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def is_worker() -> bool:
    """Whether torchrun started this process as one of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def run_worker(work: Callable[[], int]) -> NoReturn:
    """Run a torchrun worker's ``work`` and end the process with its status (2 after
    one ``cadenza: error:`` line). The process ends with ``os._exit`` once the group is
    left and the output flushed: in torch 2.13 gloo's threads abort the interpreter's
    own exit ("terminate called without an active exception") in about one run in
    eight, after a run that went well, and torchrun counts that a failure."""
    from cadenza.errors import CadenzaError
    from cadenza.safety import one_line

    try:
        status = work()
    except KeyboardInterrupt:
        status = 130
    except Exception as err:  # noqa: BLE001 - the worker's last resort, as in cli.main
        if os.environ.get("CADENZA_DEBUG") and not isinstance(err, CadenzaError):
            traceback.print_exc()
        print(f"cadenza: error: {one_line(err)}", file=sys.stderr)
        status = 2
    shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def _store(world: int, timeout_s: float) -> dist.Store | None:
    """After an elastic restart, torchrun's key-value store with its keys prefixed by
    the restart count: the agent's store still holds the first attempt's keys (gloo's
    addresses among them), and the new workers would otherwise connect to the dead
    ones ("Gloo connectFullMesh failed"; seen without the prefix). The first attempt
    has nothing to avoid and takes torch's own env:// rendezvous."""
    if os.environ.get("TORCHELASTIC_USE_AGENT_STORE") != "True" or not restart_count():
        return None
    store = dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), world,
                          is_master=False, timeout=timedelta(seconds=timeout_s))
    return dist.PrefixStore(f"cadenza/attempt_{restart_count()}", store)


def _device(name: str, local_rank: int | None) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"train.device={name} but CUDA is not available")
    if name == "cuda" and local_rank is not None:  # one GPU per process
        name = f"cuda:{local_rank}"
    return torch.device(name)


def wrap(model: torch.nn.Module, ranks: Ranks, find_unused: bool = False) -> torch.nn.Module:
    """``model`` under DistributedDataParallel (the model itself for one process).
    ``find_unused``: the objective leaves some parameters without a gradient (say, a
    head it does not train), which DDP must then look for at every step."""
    if not ranks.active:
        return model
    ids = [ranks.device.index] if ranks.device.type == "cuda" else None
    with warnings.catch_warnings():  # its successor still syncs buffers at the start
        warnings.filterwarnings("ignore", "`broadcast_buffers` is deprecated")
        return Wrapped(model, device_ids=ids, broadcast_buffers=False,
                       find_unused_parameters=find_unused)


class Wrapped(torch.nn.parallel.DistributedDataParallel):
    """DDP that lends the model's own attributes: an objective reads ``model.head_sizes``
    or calls ``model.mean(...)`` as in one process, while the forward goes through DDP."""

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.module, name)


def leaves_unused(model: torch.nn.Module, loss: torch.Tensor) -> bool:
    """Whether backpropagating ``loss`` (a first batch's, before training) leaves a
    trainable parameter without a gradient; the gradients are cleared again."""
    loss.backward()
    unused = any(p.grad is None for p in model.parameters() if p.requires_grad)
    model.zero_grad(set_to_none=True)
    return unused


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The model inside a DDP wrapper (saved without the ``module.`` prefix)."""
    return model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) \
        else model


def sync_context(model: torch.nn.Module, sync: bool) -> contextlib.AbstractContextManager:
    """``no_sync`` for an accumulation micro-batch that is not the last of its step."""
    if sync or not isinstance(model, torch.nn.parallel.DistributedDataParallel):
        return contextlib.nullcontext()
    return model.no_sync()


def rows_of(batch_size: int, ranks: Ranks, contiguous: bool) -> list[int]:
    """The rows of the global batch this rank trains on: a contiguous block (TBPTT
    streams, so a row's state stays on one rank) or ``DistributedSampler``'s share."""
    if batch_size % ranks.world:
        raise ConfigError(f"train.batch_size={batch_size} is the global batch; it must be a "
                          f"multiple of the {ranks.world} training processes")
    per = batch_size // ranks.world
    if contiguous:
        return list(range(ranks.rank * per, (ranks.rank + 1) * per))
    from torch.utils.data.distributed import DistributedSampler

    sampler = DistributedSampler(range(batch_size), num_replicas=ranks.world, rank=ranks.rank,
                                 shuffle=False)
    return list(sampler)


class RankBatches:
    """The rank's rows of an objective's batches: same ``windows_per_epoch`` on every
    rank. Samplers that can build only some rows (``batch(..., rows=)``) are asked
    for them; any other batch (a dataclass of tensors) is cut along its first axis."""

    def __init__(self, batches: Any, batch_size: int, ranks: Ranks) -> None:
        self.inner, self.ranks = batches, ranks
        self.windows_per_epoch = batches.windows_per_epoch
        self.carries_state = batches.carries_state
        self.rows = rows_of(batch_size, ranks, contiguous=batches.carries_state)
        self._index = torch.tensor(self.rows)
        self._by_rows = getattr(batches, "builds_rows", False)

    def batch(self, epoch: int, index: int) -> Any:
        if self._by_rows:
            return self.inner.batch(epoch, index, rows=self.rows)
        return take_rows(self.inner.batch(epoch, index), self._index)


def take_rows(batch: Any, index: torch.Tensor) -> Any:
    """``batch`` with the rows ``index``: a tensor, or a dataclass, dict, tuple or list
    of them (anything else is left as it is)."""
    if isinstance(batch, torch.Tensor):
        return batch.index_select(0, index)
    if is_dataclass(batch) and not isinstance(batch, type):
        return replace(batch, **{f.name: take_rows(getattr(batch, f.name), index)
                                 for f in fields(batch)})
    if isinstance(batch, dict):
        return {k: take_rows(v, index) for k, v in batch.items()}
    if isinstance(batch, (tuple, list)):
        return type(batch)(take_rows(v, index) for v in batch)
    return batch


def shard(batches: Any, batch_size: int, ranks: Ranks) -> Any:
    """The batches this rank trains on (all of them for one process)."""
    return RankBatches(batches, batch_size, ranks) if ranks.active else batches


def loss_share(count: int, ranks: Ranks) -> float:
    """The factor that turns a rank's mean loss over ``count`` units into its part of
    the global mean (DDP averages gradients over ranks)."""
    if not ranks.active:
        return 1.0
    total = all_sum([float(count)], ranks)[0]
    return ranks.world * count / total if total else 0.0


def _wire(ranks: Ranks) -> torch.device:
    """Where collectives' tensors live: the GPU for nccl, the CPU for gloo."""
    return ranks.device if ranks.device.type == "cuda" else torch.device("cpu")


def all_sum(values: Sequence[float], ranks: Ranks) -> list[float]:
    """``values`` summed over all ranks (float64)."""
    if not ranks.active:
        return list(values)
    tensor = torch.tensor(list(values), dtype=torch.float64, device=_wire(ranks))
    dist.all_reduce(tensor)
    return tensor.tolist()


def reduce_result(result: dict[str, Any], ranks: Ranks,
                  extra: Sequence[str] = ()) -> dict[str, Any]:
    """A held-out result scored on each rank's share, made global: ``loss`` (and the
    accuracies) as the means weighted by ``count``; ``count`` summed. A rank with no
    share (count 0) adds nothing; ``extra`` names more per-unit means (an objective's
    per-head measures) merged the same way. An objective that scores the whole split on every
    rank gives the same result back (every rank weighs the same)."""
    if not ranks.active:
        return result
    keys = [k for k in ("loss", "accuracy", "frame_accuracy", *extra) if k in result]
    count = int(result.get("count") or 0)
    sums = all_sum([count, *(float(result[k]) * count if count else 0.0 for k in keys)], ranks)
    total = int(sums[0])
    merged = {**result, "count": total}
    for key, value in zip(keys, sums[1:]):
        merged[key] = value / total if total else float("nan")
    return merged


def agree(reason: str, ranks: Ranks, timed: bool = True,
          reasons: Sequence[str] = STOP_REASONS) -> str:
    """Rank 0's stop reason on every rank, where a time budget (``timed``) could end
    the ranks on different steps (the other reasons agree by themselves); a tensor is
    broadcast, never a pickled object."""
    if not ranks.active or not timed:
        return reason
    code = torch.tensor([reasons.index(reason)], device=_wire(ranks))
    dist.broadcast(code, src=0)
    return reasons[int(code)]


def barrier(ranks: Ranks) -> None:
    if ranks.active:
        dist.barrier()


def seed_step(seed: int, ranks: Ranks, step: int) -> None:
    """Reseed the RNG (dropout) from (seed, rank, step): ranks draw different masks,
    and a resumed run the same ones, with no per-rank RNG state to save."""
    if ranks.active:
        mixed = np.random.SeedSequence([seed, ranks.rank, step]).generate_state(1)[0]
        torch.manual_seed(int(mixed))


def gather_state(state: tuple[torch.Tensor, ...] | None, dims: Sequence[int],
                 ranks: Ranks) -> tuple[torch.Tensor, ...] | None:
    """Every rank's carried TBPTT state joined along each tensor's batch axis (for the
    checkpoint); None stays None."""
    if state is None or not ranks.active:
        return state
    joined = []
    for tensor, dim in zip(state, dims):
        parts = [torch.empty_like(tensor) for _ in range(ranks.world)]
        dist.all_gather(parts, tensor.contiguous())
        joined.append(torch.cat(parts, dim))
    return tuple(joined)


def split_state(state: tuple[torch.Tensor, ...] | None, dims: Sequence[int],
                ranks: Ranks) -> tuple[torch.Tensor, ...] | None:
    """This rank's block of a checkpoint's joined state (``gather_state`` undone)."""
    if state is None or not ranks.active:
        return state
    return tuple(t.chunk(ranks.world, dim)[ranks.rank].contiguous()
                 for t, dim in zip(state, dims))


def launch(argv: Sequence[str], nproc: int, max_restarts: int = 0) -> int:
    """Run ``cadenza <argv>`` in ``nproc`` processes on this machine under torchrun
    (``python -m torch.distributed.run``); returns 0, or 2 after one error line.

    The workers' output passes through as it comes (progress bars included), their
    ``cadenza: error:`` lines once each; torchrun's own report of a failed worker (a
    traceback) is replaced by one line."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc_per_node={nproc}", f"--max-restarts={max_restarts}",
               "-m", "cadenza", *argv]
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE)
    errors = _relay(process.stderr, sys.stderr.buffer)
    status = process.wait()
    if status and not errors:
        print(f"cadenza: error: train --nproc {nproc}: a worker failed (torchrun exit "
              f"status {status})", file=sys.stderr)
    return 2 if status else 0


def _relay(source: Any, sink: Any) -> set[bytes]:
    """Copy ``source`` to ``sink`` as it comes; returns the ``cadenza: error:`` lines
    (each written once). From a traceback on, lines are held back."""
    errors: set[bytes] = set()
    muted, pending = False, b""
    for chunk in iter(lambda: source.read1(4096), b""):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            head, *failures = line.split(ERROR)  # workers' lines may interleave
            for failure in failures:
                if failure.strip() and failure.strip() not in errors:
                    errors.add(failure.strip())
                    sink.write(ERROR + b" " + failure.strip() + b"\n")
            if head.startswith(b"Traceback") or b"ChildFailedError" in head:
                muted = True
            elif errors and (not head.strip() or TORCHRUN_LOG.match(head)):
                continue  # torchrun's log of the failure the error line has told
            elif not muted and (head or not failures):
                sink.write(head + b"\n")
        if b"\r" in pending and not muted:  # a progress bar redraws its line
            shown, _, pending = pending.rpartition(b"\r")
            sink.write(shown + b"\r")
        sink.flush()
    if pending and not muted:
        sink.write(pending)
    return errors
