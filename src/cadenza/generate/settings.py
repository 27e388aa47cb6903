"""A run's default sampling settings (``sampling.json`` in the run directory).

Like Hugging Face's ``generation_config.json``: whoever trained a model knows the
settings it sounds best with, and ships them beside the weights. Every command that
samples (``generate``, ``continue``, ``report``) starts from them; a flag given on
the command line wins. A run without the file samples at plain temperature 1.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from cadenza.errors import ConfigError
from cadenza.safety import about, read_json
from cadenza.validate import check_number, check_optional

FILE = "sampling.json"


@dataclass(frozen=True)
class SamplingSettings:
    temperature: float = 1.0
    pitch_temperature: float | None = None  # chorale note onsets only (GroupTemperature)
    top_k: int | None = None
    top_p: float | None = None
    min_p: float | None = None
    min_frames: int | None = None  # no END before this many frames (chorales)
    end_after: int | None = None  # past this many frames, END grows likelier (EndBoost)
    end_growth: float = 1.1  # END's odds multiply by this every frame past end_after

    def __post_init__(self) -> None:
        """Every value checked here, so the flags and a run's sampling.json alike stop
        with one line (NaN, inf, or out of range) instead of sampling nonsense."""
        check_number("temperature", self.temperature, 0, 100, low_open=True)
        check_optional("pitch_temperature", self.pitch_temperature, 0, 100, low_open=True)
        check_optional("top_k", self.top_k, 1, 1 << 20, integer=True)
        check_optional("top_p", self.top_p, 0, 1, low_open=True)
        check_optional("min_p", self.min_p, 0, 1, high_open=True)
        check_optional("min_frames", self.min_frames, 0, 1 << 20, integer=True)
        check_optional("end_after", self.end_after, 0, 1 << 20, integer=True)
        check_number("end_growth", self.end_growth, 1, 1000)

    def override(self, **changes: Any) -> SamplingSettings:
        """These settings with every change that is not None applied."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def processors(self, vocab: Any) -> list:
        """The logits processors for ``vocab`` (the grammar is added by the decoder)."""
        from cadenza.generate.grammar import EndBoost, MinFrames, is_chorale_vocab, onset_ids
        from cadenza.generate.processors import sampling_processors

        chorale = is_chorale_vocab(vocab)
        chain = sampling_processors(self.temperature, self.top_k, self.top_p, self.min_p,
                                    self.pitch_temperature, onset_ids(vocab) if chorale else None)
        if (self.min_frames or self.end_after) and not chorale:
            raise ConfigError("min_frames and end_after need a chorale vocabulary (|||, END)")
        if self.min_frames:
            chain.append(MinFrames(vocab, self.min_frames))
        if self.end_after:
            chain.append(EndBoost(vocab, self.end_after, self.end_growth))
        return chain

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_sampling(run_path: str | Path) -> SamplingSettings:
    """The run's ``sampling.json``, or plain defaults where there is none."""
    path = Path(run_path) / FILE
    if not path.exists():
        return SamplingSettings()
    data = read_json(path, kind=None)
    known = {f.name for f in fields(SamplingSettings)}
    unknown = sorted(set(data) - known) if isinstance(data, dict) else ["(not an object)"]
    if unknown:
        raise ConfigError(f"{path}: unknown sampling setting(s) {', '.join(unknown)}; "
                          f"known: {', '.join(sorted(known))}")
    with about(path, "bad sampling settings"):
        return SamplingSettings(**data)
