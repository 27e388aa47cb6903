"""General MIDI as MidiTok event tokens (REMI or TSD): any instruments, drums, velocity,
tempo changes, time signatures and the sustain pedal.

REMI (Huang & Yang, 2020) writes time as Bar and Position tokens; TSD writes it as
TimeShift tokens between events. With ``programs`` every note carries its instrument
(a Program token) in one stream, drums included; without, the pitched tracks are
merged into one piano part. The codec's options are plain JSON (saved with the
dataset and the run) and the MidiTok tokenizer is built from them on load: nothing
is pickled, and no tokenizer file is needed. A piece is ``BOS`` + MidiTok's tokens +
``EOS``; codes are MidiTok's own ids, so the code space is its vocabulary.

MidiTok quantizes positions to ``steps_per_quarter`` per beat (durations past four
beats to half that), velocities to ``velocities`` bins and tempos to 32 values; a
second encoding of a decoded piece gives the same tokens (``tests/codecs``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np

from cadenza.codecs.base import register_codec
from cadenza.codecs.spec import TOKENS, CodecSpec
from cadenza.errors import CadenzaError
from cadenza.score import DEFAULT_TPQ, Score, empty_notes

TOKENIZATIONS = ("REMI", "TSD")
BOS, EOS, PAD = "BOS_None", "EOS_None", "PAD_None"


@register_codec("miditok")
class MidiTokCodec:
    """Scores <-> MidiTok REMI/TSD tokens, framed by BOS and EOS."""

    name: ClassVar[str] = "miditok"
    produces: ClassVar[str] = "tokens"
    # what a folder of general MIDI is prepared with unless the user says otherwise:
    # every track and meter, no key normalisation, MidiTok's own quantization
    preprocess_defaults: ClassVar[dict[str, Any]] = {
        "meter": None, "satb": False, "normalize_key": False, "quantize": 0}

    def __init__(self, tokenization: str = "REMI", steps_per_quarter: int = 8,
                 velocities: int = 32, programs: bool = True, tempos: bool = True,
                 time_signatures: bool = True, sustain_pedal: bool = True,
                 chords: bool = False, rests: bool = False):
        if tokenization not in TOKENIZATIONS:
            raise ValueError(f"tokenization must be one of {', '.join(TOKENIZATIONS)}, "
                             f"got {tokenization!r}")
        if not 1 <= steps_per_quarter <= 32 or DEFAULT_TPQ % steps_per_quarter:
            raise ValueError(f"steps_per_quarter must divide {DEFAULT_TPQ} and be at most 32, "
                             f"got {steps_per_quarter}")
        if not 0 <= velocities <= 127:
            raise ValueError(f"velocities must be 0 (none) .. 127, got {velocities}")
        self.tokenization, self.steps_per_quarter = tokenization, steps_per_quarter
        self.velocities, self.programs, self.tempos = velocities, programs, tempos
        self.time_signatures, self.sustain_pedal = time_signatures, sustain_pedal
        self.chords, self.rests = chords, rests
        self.keeps_drums = programs  # drum tracks are read for it (without programs: none)
        self.tokenizer = self._build()
        self._names = [None] * len(self.tokenizer.vocab)
        for token, code in self.tokenizer.vocab.items():
            self._names[code] = token
        self.code_space = len(self._names)
        # every MidiTok token is kept in a dataset's vocabulary, used or not, so that any
        # piece (a primer, another corpus) encodes in a run's ids; a few hundred tokens
        self.specials = tuple(t for t in self._names if t != PAD)
        self._pitch = np.full(self.code_space, -1, dtype=np.int16)  # -1: not a pitched note
        self._note = np.zeros(self.code_space, dtype=bool)  # Pitch or PitchDrum: a note
        for code, token in enumerate(self._names):
            kind, _, value = token.partition("_")
            if kind == "Pitch":
                self._pitch[code] = int(value)
            self._note[code] = kind in ("Pitch", "PitchDrum")

    def _build(self) -> Any:
        import miditok

        spq = self.steps_per_quarter
        resolution = {(0, 4): spq, (4, 12): max(1, spq // 2)}
        config = miditok.TokenizerConfig(
            pitch_range=(0, 127),
            beat_res=resolution,
            beat_res_rest=resolution,
            num_velocities=max(self.velocities, 1),
            use_velocities=self.velocities > 0,
            special_tokens=[PAD, BOS, EOS],
            use_programs=self.programs,
            one_token_stream_for_programs=self.programs,
            use_tempos=self.tempos,
            use_time_signatures=self.time_signatures,
            use_sustain_pedals=self.sustain_pedal,
            use_chords=self.chords,
            use_rests=self.rests,
        )
        return getattr(miditok, self.tokenization)(config)

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "tokenization": self.tokenization,
                "steps_per_quarter": self.steps_per_quarter, "velocities": self.velocities,
                "programs": self.programs, "tempos": self.tempos,
                "time_signatures": self.time_signatures, "sustain_pedal": self.sustain_pedal,
                "chords": self.chords, "rests": self.rests}

    @property
    def spec(self) -> CodecSpec:
        return CodecSpec((TOKENS,), {"bos": BOS, "eos": EOS})

    # -- names -----------------------------------------------------------------------
    def token_name(self, code: int) -> str:
        return self._names[code]

    def code_of(self, name: str) -> int:
        return self.tokenizer.vocab[name]

    def pitch_of_code(self, code: int) -> int | None:
        """The MIDI pitch a code plays (``Pitch_N``), None for any other token (drums
        included: their numbers name instruments)."""
        pitch = int(self._pitch[code]) if 0 <= code < self.code_space else -1
        return pitch if pitch >= 0 else None

    def count_notes(self, codes: np.ndarray) -> int:
        """Notes among ``codes`` (one Pitch or PitchDrum token each): nats per note."""
        codes = np.asarray(codes, dtype=np.int64)
        inside = codes[(codes >= 0) & (codes < self.code_space)]
        return int(self._note[inside].sum())

    # -- encode / decode -------------------------------------------------------------
    def encode(self, score: Score) -> np.ndarray:
        """``BOS``, MidiTok's tokens of the score, ``EOS`` (uint16 codes)."""
        from cadenza.io.symusic_score import to_symusic

        # parts in one order (pitched by program, then drums), as decoding writes them:
        # MidiTok orders simultaneous events by track, so a decoded piece would otherwise
        # come back with its events in another order
        score = _one_part(score) if not self.programs else _ordered_parts(score)
        result = self.tokenizer.encode(to_symusic(score))
        if isinstance(result, list):  # a tokenizer per track (programs=False): one track
            result = result[0] if result else None
        ids = result.ids if result is not None else []
        codes = np.empty(len(ids) + 2, dtype=np.uint16)
        codes[0], codes[-1] = self.code_of(BOS), self.code_of(EOS)
        codes[1:-1] = ids
        return codes

    def decode(self, codes: Iterable[int]) -> Score:
        """The Score the codes describe (BOS, EOS and padding are left out)."""
        from cadenza.io.symusic_score import from_symusic

        skip = {self.code_of(BOS), self.code_of(EOS), self.code_of(PAD)}
        ids = [int(c) for c in codes if int(c) not in skip]
        if any(not 0 <= c < self.code_space for c in ids):
            raise CadenzaError(f"a code outside MidiTok's vocabulary of {self.code_space}")
        if not ids:
            return Score(notes=empty_notes(), parts=[])
        try:
            midi = self.tokenizer.decode(ids if self.programs else [ids])
        except Exception as err:  # MidiTok raises plain errors on token soup
            raise CadenzaError(f"MidiTok cannot decode these tokens: {err}") from None
        return from_symusic(midi)


def _ordered_parts(score: Score) -> Score:
    order = sorted(range(len(score.parts)), key=lambda p: (score.is_drum(p), score.program(p)))
    return score if order == sorted(order) else score.select_parts(order)


def _one_part(score: Score) -> Score:
    """The pitched parts as one piano part (for ``programs=False``)."""
    pitched = score.without_drums()
    notes = pitched.notes.copy()
    notes["part"] = 0
    return pitched.replace(notes=notes, parts=["Piano"] if len(notes) else [],
                           programs=[], drums=[])

