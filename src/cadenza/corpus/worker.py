"""What a preparation worker does with one file: read, preprocess, encode.

Runs in a pool process, so it takes and returns plain data (bytes, dicts) and
never raises for a bad file: a failure becomes a skip record with its reason.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from cadenza.codecs import codec_from_config
from cadenza.codecs.mel import AUDIO_SUFFIXES
from cadenza.corpus.preprocess import PreprocessConfig, preprocess
from cadenza.errors import CadenzaError
from cadenza.io.read import read


@dataclass
class Task:
    """One file to prepare; ``data`` holds its bytes, read once by the main process."""

    piece_id: str
    path: str
    data: bytes


@dataclass
class Piece:
    """One prepared piece: codes for the original and for each augmentation shift."""

    piece_id: str
    source: str
    codes: dict[int, np.ndarray]  # shift (0 = as prepared) -> uint16 codes
    facts: dict[str, Any]


@dataclass
class Skip:
    source: str
    reason: str


_CACHE: dict[str, Any] = {}


def prepare_file(task: Task, settings: dict[str, Any]) -> list[Piece | Skip]:
    """Every piece of one file, or the reason it was skipped."""
    codec, config = _build(settings)
    if os.path.splitext(task.path)[1].lower() in AUDIO_SUFFIXES:
        return [_audio_piece(task, codec)]
    try:
        # drum tracks only for a codec that holds them (their pitches name instruments)
        scores = read(task.path, data=task.data, drums=getattr(codec, "keeps_drums", False))
    except CadenzaError as err:
        return [Skip(task.path, _reason(err, task.path))]
    except Exception as err:  # a reader bug must not abort a whole corpus
        return [Skip(task.path, f"unexpected {type(err).__name__}: {err}")]
    results: list[Piece | Skip] = []
    for number, score in enumerate(scores):
        piece_id = task.piece_id if len(scores) == 1 else f"{task.piece_id}#{number + 1}"
        source = task.path if len(scores) == 1 else f"{task.path}#{number + 1}"
        try:
            prepared, facts = preprocess(score, config)
            codes = {0: codec.encode(prepared)}
            for shift in config.augment:
                if shift:
                    try:
                        codes[shift] = codec.encode(prepared.transpose(shift))
                    except ValueError:
                        continue  # this shift leaves the MIDI range: leave it out
        except CadenzaError as err:
            results.append(Skip(source, _reason(err, task.path)))
            continue
        except Exception as err:
            results.append(Skip(source, f"unexpected {type(err).__name__}: {err}"))
            continue
        facts.update(
            notes=int(len(prepared.notes)),
            parts=len(prepared.parts),
            meter=score.meter,
            key=str(prepared.key) if prepared.key else None,
        )
        results.append(Piece(piece_id, source, codes, facts))
    return results


def _audio_piece(task: Task, codec: Any) -> Piece | Skip:
    """An audio file, for a codec that reads audio (``mel``)."""
    if not hasattr(codec, "encode_audio"):
        return Skip(task.path, f"audio needs an audio codec (--codec mel), not {codec.name}")
    try:
        codes = codec.encode_audio(task.data, task.path)
    except CadenzaError as err:
        return Skip(task.path, _reason(err, task.path))
    except Exception as err:
        return Skip(task.path, f"unexpected {type(err).__name__}: {err}")
    return Piece(task.piece_id, task.path, {0: codes}, {"frames": int(len(codes))})


def _build(settings: dict[str, Any]) -> tuple[Any, PreprocessConfig]:
    """The codec and config for these settings, built once per process."""
    key = repr(sorted(settings["codec"].items())) + repr(settings["preprocess"])
    if _CACHE.get("key") != key:
        _CACHE.update(
            key=key,
            codec=codec_from_config(settings["codec"]),
            config=PreprocessConfig(**settings["preprocess"]),
        )
    return _CACHE["codec"], _CACHE["config"]


def _reason(err: BaseException, path: str) -> str:
    """The error text without the file path that the record already names."""
    text = str(err)
    prefix = f"{path}: "
    text = text[len(prefix):] if text.startswith(prefix) else text
    return text or type(err).__name__


def describe_file(task: Task) -> list[dict[str, Any] | Skip]:
    """Facts about each piece of a file as read, before any filtering."""
    try:
        scores = read(task.path, data=task.data)
    except CadenzaError as err:
        return [Skip(task.path, _reason(err, task.path))]
    except Exception as err:
        return [Skip(task.path, f"unexpected {type(err).__name__}: {err}")]
    return [
        {
            "parts": len(s.parts),
            "part_names": s.parts,
            "meter": s.meter,
            "key": str(s.key) if s.key else "unknown",
            "notes": int(len(s.notes)),
        }
        for s in scores
    ]
