"""Run by torchrun from test_distributed.py: gradients inside ``no_sync`` stay each
rank's own, and the step after it all-reduces them; a model with a parameter the loss
never reaches (an untrained head) is found out and trains. Writes ``<out>/rank<R>.json``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from torch import distributed as dist

from cadenza.train import distributed as ddp


class TwoHeads(torch.nn.Module):
    """A model whose second head the loss never uses."""

    def __init__(self) -> None:
        super().__init__()
        self.used, self.unused = torch.nn.Linear(4, 1), torch.nn.Linear(4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.used(x)


def flat_grad(model: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.grad.flatten() for p in model.parameters()])


def main(out: Path) -> int:
    torch.set_num_threads(1)
    ranks = ddp.init("cpu")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    net = ddp.wrap(model, ranks)
    data = torch.randn(2, 3, 4, generator=torch.Generator().manual_seed(ranks.rank + 1))
    with ddp.sync_context(net, sync=False):  # accumulation micro-batch: rank's own data
        net(data[0]).pow(2).mean().backward()
    local = flat_grad(model).clone()
    with ddp.sync_context(net, sync=True):  # the last micro-batch: all-reduce
        net(data[1]).pow(2).mean().backward()
    synced = flat_grad(model).clone()
    every = [torch.empty_like(local) for _ in range(ranks.world)]
    dist.all_gather(every, local)
    local_equal = bool(torch.equal(every[0], every[1]))
    dist.all_gather(every, synced)
    synced_close = bool(torch.allclose(every[0], every[1], atol=1e-7))
    heads = TwoHeads()
    unused = ddp.leaves_unused(heads, heads(data[0]).sum())
    wrapped = ddp.wrap(heads, ranks, find_unused=unused)
    for step in range(3):  # without find_unused, DDP fails at the second step
        wrapped.zero_grad()
        wrapped(data[step % 2]).sum().backward()
    (out / f"rank{ranks.rank}.json").write_text(json.dumps(
        {"world": ranks.world, "local_equal": local_equal, "synced_close": synced_close,
         "found_unused": unused}))
    return 0


if __name__ == "__main__":
    ddp.run_worker(lambda: main(Path(sys.argv[1])))  # leaves the group, exits at once
