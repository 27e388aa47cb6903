"""Log-mel spectrograms of audio: rendered scores or a user's WAV/FLAC/OGG files.

A score is rendered with FluidSynth and the General MIDI soundfont under one of
``programs`` (piano, strings, organ, ...; the piece's content picks which, so a piece
keeps one timbre and never straddles two splits), cut at ``max_seconds``; an audio file
is mixed to mono and resampled to ``sample_rate`` (with a notice). librosa computes the
mel filterbank and, going back, Griffin-Lim (``audio``): no vocoder weights can be
downloaded here, so Griffin-Lim is the honest inverse.

A step is one mel frame: ``n_mels`` values in dB (power, ref 1.0), stored as uint16 in
hundredths of a dB above ``DB_FLOOR`` (the store holds unsigned integers; 0.01 dB is far
below anything audible). Models read ``(dB - DB_MID) / DB_PER_UNIT``. Every parameter
is in :meth:`config`, saved with the dataset and the run, and checked on load: a run
refuses audio prepared with other settings.
"""

from __future__ import annotations

import io
import sys
import tempfile
import zlib
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from cadenza.codecs.base import register_codec
from cadenza.codecs.spec import CodecSpec, FieldSpec
from cadenza.errors import CadenzaError, ReadError
from cadenza.score import Score

DB_FLOOR, DB_MID, DB_PER_UNIT = -100.0, -40.0, 20.0
SILENCE_DB = -80.0  # a clip whose loudest mel cell is below this is silent
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
PROGRAMS = (0, 48, 19, 40, 73)  # GM: acoustic grand, strings, church organ, violin, flute
MAX_AUDIO_BYTES = 256 * 2**20


class AudioError(ReadError):
    """Audio that cannot become a spectrogram: corrupt, silent, too short."""


@register_codec("mel")
class MelCodec:
    """Audio <-> log-mel frames ``[N, n_mels]``."""

    name: ClassVar[str] = "mel"
    produces: ClassVar[str] = "frames"
    db_per_unit: ClassVar[float] = DB_PER_UNIT

    def __init__(self, sample_rate: int = 16000, n_fft: int = 1024, hop: int = 256,
                 n_mels: int = 64, fmin: float = 30.0, fmax: float = 8000.0,
                 segment: int = 32, programs: list[int] | tuple[int, ...] = PROGRAMS,
                 max_seconds: float = 20.0) -> None:
        if not (8000 <= sample_rate <= 48000 and 256 <= n_fft <= 8192
                and 32 <= hop <= n_fft and 8 <= n_mels <= 256 and segment >= 4):
            raise ValueError("mel: need 8000 <= sample_rate <= 48000, 256 <= n_fft <= 8192, "
                             "32 <= hop <= n_fft, 8 <= n_mels <= 256, segment >= 4")
        if not (0 <= fmin < fmax <= sample_rate / 2):
            raise ValueError(f"mel: need 0 <= fmin < fmax <= sample_rate / 2 "
                             f"({sample_rate / 2:g})")
        if not programs or any(not 0 <= int(p) <= 127 for p in programs):
            raise ValueError("mel: programs must be General MIDI programs 0..127")
        if not 1.0 <= max_seconds <= 3600:
            raise ValueError("mel: max_seconds must be in [1, 3600]")
        self.sample_rate, self.n_fft, self.hop, self.n_mels = sample_rate, n_fft, hop, n_mels
        self.fmin, self.fmax, self.segment = float(fmin), float(fmax), segment
        self.programs, self.max_seconds = tuple(int(p) for p in programs), float(max_seconds)
        self.code_space, self.specials = 0, ()
        self.suffixes = (*_music_suffixes(), *AUDIO_SUFFIXES)

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "sample_rate": self.sample_rate, "n_fft": self.n_fft,
                "hop": self.hop, "n_mels": self.n_mels, "fmin": self.fmin, "fmax": self.fmax,
                "segment": self.segment, "programs": list(self.programs),
                "max_seconds": self.max_seconds}

    @property
    def spec(self) -> CodecSpec:
        return CodecSpec((FieldSpec("mel", "frames", "uint16", (self.n_mels,)),))

    def check_same(self, other: dict[str, Any], what: str) -> None:
        """Refuse audio prepared with other mel settings than this codec's."""
        mine = self.config()
        differ = sorted(k for k in mine if other.get(k) != mine[k])
        if differ:
            raise CadenzaError(f"{what}: mel settings differ ({', '.join(differ)}); prepare "
                               "the audio with the run's codec settings")

    # -- audio -> frames ---------------------------------------------------------------
    def mel_db(self, samples: np.ndarray) -> np.ndarray:
        """Mono samples at ``sample_rate`` -> ``[frames, n_mels]`` float32 dB."""
        import librosa

        power = librosa.feature.melspectrogram(
            y=np.asarray(samples, dtype=np.float32), sr=self.sample_rate, n_fft=self.n_fft,
            hop_length=self.hop, n_mels=self.n_mels, fmin=self.fmin, fmax=self.fmax,
            power=2.0)
        db = 10.0 * np.log10(np.maximum(power, 10 ** (DB_FLOOR / 10)))
        return db.T.astype(np.float32)

    def quantize(self, db: np.ndarray) -> np.ndarray:
        return np.clip(np.round((db - DB_FLOOR) * 100), 0, 65535).astype(np.uint16)

    def to_model(self, codes: np.ndarray) -> np.ndarray:
        """Stored codes -> model values (float32)."""
        db = np.asarray(codes, dtype=np.float32) / 100 + DB_FLOOR
        return (db - DB_MID) / DB_PER_UNIT

    def to_db(self, values: np.ndarray) -> np.ndarray:
        """Model values -> dB."""
        return np.asarray(values, dtype=np.float32) * DB_PER_UNIT + DB_MID

    def frames(self, samples: np.ndarray, where: str) -> np.ndarray:
        """Checked codes of a clip: refused if silent or shorter than one segment."""
        db = self.mel_db(samples)
        if not len(db) or float(db.max()) < SILENCE_DB:
            raise AudioError(f"{where}: silent (no mel band above {SILENCE_DB:g} dB)")
        if len(db) < self.segment:
            raise AudioError(f"{where}: {len(db) * self.hop / self.sample_rate:.2f} s is "
                             f"shorter than one segment ({self.segment} frames, "
                             f"{self.segment * self.hop / self.sample_rate:.2f} s)")
        return self.quantize(db)

    def encode_audio(self, data: bytes, where: str) -> np.ndarray:
        """An audio file's bytes -> codes ``[N, n_mels]``."""
        return self.frames(read_audio(data, where, self.sample_rate, self.max_seconds), where)

    def encode(self, score: Score) -> np.ndarray:
        """A score, rendered under the program its content picks -> codes."""
        program = self.program_for(score)
        return self.frames(self.render(score, program), f"program {program}")

    def program_for(self, score: Score) -> int:
        key = zlib.crc32(np.ascontiguousarray(score.notes).tobytes())
        return self.programs[key % len(self.programs)]

    def render(self, score: Score, program: int) -> np.ndarray:
        """Mono samples of ``score`` played by General MIDI ``program`` (FluidSynth)."""
        import symusic

        from cadenza.io.audio import render_wav
        from cadenza.io.write import midi_bytes

        midi = symusic.Score.from_midi(midi_bytes(score))
        for track in midi.tracks:
            track.program = program
        with tempfile.TemporaryDirectory(prefix="cadenza-mel-") as folder:
            mid, wav = Path(folder) / "piece.mid", Path(folder) / "piece.wav"
            mid.write_bytes(bytes(midi.dumps_midi()))
            if render_wav(mid, wav, rate=self.sample_rate) is None:
                raise CadenzaError("cannot render audio: FluidSynth or its soundfont is "
                                   "missing (apt-get install fluidsynth fluid-soundfont-gm)")
            return read_audio(wav.read_bytes(), str(wav), self.sample_rate, self.max_seconds,
                              quiet=True)

    # -- frames -> audio ---------------------------------------------------------------
    def audio(self, db: np.ndarray, iterations: int = 64) -> np.ndarray:
        """``[frames, n_mels]`` dB -> mono samples by Griffin-Lim (librosa)."""
        import librosa

        power = 10.0 ** (np.asarray(db, dtype=np.float64).T / 10)
        return librosa.feature.inverse.mel_to_audio(
            power, sr=self.sample_rate, n_fft=self.n_fft, hop_length=self.hop,
            fmin=self.fmin, fmax=self.fmax, power=2.0, n_iter=iterations).astype(np.float32)

    def decode(self, codes: Any) -> Score:
        raise CadenzaError("a mel spectrogram has no score; use MelCodec.audio for sound")

    def token_name(self, code: int) -> str:
        raise CadenzaError("the mel codec has no tokens")

    def code_of(self, name: str) -> int:
        raise CadenzaError("the mel codec has no tokens")


def read_audio(data: bytes, where: str, sample_rate: int, max_seconds: float | None = None,
               quiet: bool = False) -> np.ndarray:
    """Audio bytes (WAV/FLAC/OGG) -> mono float32 samples at ``sample_rate``; a file of
    other channels or rate is mixed down and resampled with one notice."""
    import soundfile

    if len(data) > MAX_AUDIO_BYTES:
        raise AudioError(f"{where}: larger than {MAX_AUDIO_BYTES >> 20} MB")
    try:
        samples, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except Exception as err:  # soundfile raises several types for a damaged file
        first = (str(err).splitlines() or [type(err).__name__])[0][:120]
        raise AudioError(f"{where}: not readable audio ({first})") from None
    if not len(samples):
        raise AudioError(f"{where}: holds no samples")
    if max_seconds is not None:
        samples = samples[:int(max_seconds * rate)]
    channels = samples.shape[1]
    mono = samples.mean(1)
    if rate != sample_rate:
        import librosa

        mono = librosa.resample(mono, orig_sr=rate, target_sr=sample_rate)
    if (rate != sample_rate or channels != 1) and not quiet:
        print(f"cadenza: notice: {where}: {channels} channel(s) at {rate} Hz, mixed to mono "
              f"and resampled to {sample_rate} Hz", file=sys.stderr)
    if not np.isfinite(mono).all():
        raise AudioError(f"{where}: holds samples that are not finite numbers")
    return mono.astype(np.float32)


def write_wav(path: str | Path, samples: np.ndarray, sample_rate: int) -> Path:
    """16-bit PCM WAV, peak-normalised to -1 dBFS where louder (Griffin-Lim's output
    level is arbitrary)."""
    import soundfile

    peak = float(np.abs(samples).max()) if len(samples) else 0.0
    if peak > 0.89:
        samples = samples * (0.89 / peak)
    soundfile.write(str(path), samples, sample_rate, subtype="PCM_16")
    return Path(path)


def _music_suffixes() -> tuple[str, ...]:
    from cadenza.io.read import SUFFIXES

    return SUFFIXES
