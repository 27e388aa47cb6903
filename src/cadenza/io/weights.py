"""Build a model only once its config agrees with the weights file that should fill it.

A run's ``config.json`` says how large the model is; nothing stops it from saying
``hidden=20000`` (6.4 GB) beside a 1 MB weights file. :func:`build_checked` builds the
model on PyTorch's ``meta`` device first (shapes, no memory), compares every tensor with
the safetensors header (read on its own, a few kB), and checks that the header's byte
ranges fit the file, so the real model is never larger than the file that fills it
(plus the buffers a model derives, such as rotary tables, bounded below).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from cadenza.errors import ConfigError
from cadenza.safety import about, problem

MAX_HEADER = 64 * 2**20
# derived buffers (not in the file) may add this much beyond the file's own size
BUFFER_ALLOWANCE = 256 * 2**20


def read_header(path: str | Path) -> dict[str, tuple[str, list[int]]]:
    """``{name: (dtype, shape)}`` from a safetensors file's header, checked against the
    file's size; a ConfigError naming the file for anything malformed."""
    path = Path(path)
    with about(path, "cannot load weights"):
        size = path.stat().st_size
        with path.open("rb") as file:
            head = file.read(8)
            if len(head) < 8:
                raise ConfigError(f"{path}: cannot load weights: truncated (no header)")
            (length,) = struct.unpack("<Q", head)
            if length > min(MAX_HEADER, size - 8):
                raise ConfigError(f"{path}: cannot load weights: truncated or not safetensors "
                                  f"(header of {length} bytes in a file of {size})")
            header = json.loads(file.read(length))
    if not isinstance(header, dict):
        raise ConfigError(f"{path}: cannot load weights: the header is not a JSON object")
    tensors, end = {}, 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, stop = info["dtype"], list(info["shape"]), int(info["data_offsets"][1])
        except (KeyError, TypeError, ValueError):
            raise ConfigError(f"{path}: cannot load weights: bad header entry {name!r}") from None
        tensors[name] = (dtype, shape)
        end = max(end, stop)
    if 8 + length + end != size:
        raise ConfigError(f"{path}: cannot load weights: truncated or padded (the header "
                          f"describes {8 + length + end} bytes, the file has {size})")
    return tensors


def build_checked(weights: str | Path, build: Callable[[], torch.nn.Module]) -> torch.nn.Module:
    """``build()`` on the CPU, after the same call on the meta device matched ``weights``."""
    weights = Path(weights)
    header = read_header(weights)
    shell = _meta_shell(build, f"{weights.parent / 'config.json'}: ")
    _compare(shell, header, weights)
    return build()


def _meta_shell(build: Callable[[], torch.nn.Module], where: str = "") -> torch.nn.Module:
    """``build()`` on the meta device: shapes and sizes without allocating a byte."""
    try:
        with torch.device("meta"):
            return build()
    except ConfigError:
        raise
    except Exception as err:
        raise ConfigError(f"{where}the model settings do not describe a model "
                          f"({problem(err)})") from None


def _nbytes(module: torch.nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in (*module.parameters(), *module.buffers()))


def _compare(shell: torch.nn.Module, header: dict[str, Any], weights: Path) -> None:
    state = shell.state_dict(keep_vars=True)
    seen: dict[int, str] = {}
    for name, tensor in state.items():
        if name in header:
            if list(tensor.shape) != header[name][1]:
                raise ConfigError(f"{weights}: does not fit the model in config.json ({name} "
                                  f"is {header[name][1]} in the file, {list(tensor.shape)} in "
                                  "the config)")
            seen[id(tensor)] = name
    missing = [n for n, t in state.items() if n not in header and id(t) not in seen]
    extra = sorted(set(header) - set(state))
    if missing or extra:
        raise ConfigError(f"{weights}: does not fit the model in config.json (missing "
                          f"{missing[:3]}, unexpected {extra[:3]})")
    total = _nbytes(shell)
    if total > weights.stat().st_size + BUFFER_ALLOWANCE:
        raise ConfigError(f"{weights.parent / 'config.json'}: the model would take "
                          f"{total / 2**20:.0f} MB, far more than its weights file")


# A model to train from scratch may hold this many bytes of parameters and buffers
# (with Adam's two moments and the gradients, four times as much in training).
MAX_NEW_MODEL_BYTES = 2 * 2**30


def build_bounded(build: Callable[[], torch.nn.Module],
                  limit: int = MAX_NEW_MODEL_BYTES) -> torch.nn.Module:
    """``build()`` after the same call on the meta device showed the model fits ``limit``:
    ``--set model.hidden=1000000`` is refused in one line, not after minutes of swapping."""
    total = _nbytes(_meta_shell(build))
    if total > limit:
        raise ConfigError(f"the model would take {total / 2**30:.1f} GB, more than the "
                          f"{limit / 2**30:.0f} GB cadenza builds; choose smaller model settings")
    return build()
