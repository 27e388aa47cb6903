"""The mel codec and the mel VAE: settings saved and checked, bad audio refused in one
line or skipped and recorded, reconstruct and sample end to end on a tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cadenza.cli import main
from cadenza.codecs.mel import MelCodec, read_audio
from cadenza.data.dataset import PreparedDataset
from cadenza.errors import CadenzaError, ConfigError

SMALL = ["--set", "codec.n_mels=16", "--set", "codec.segment=8", "--set", "codec.n_fft=512",
         "--set", "codec.hop=256", "--set", "codec.sample_rate=8000",
         "--set", "codec.fmax=4000"]


def tone(seconds: float, rate: int, pitch: float, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    wave = 0.3 * np.sin(2 * np.pi * pitch * t) * (1 + np.sin(2 * np.pi * 2 * t)) / 2
    return np.repeat(wave[:, None], channels, 1).astype(np.float32)


@pytest.fixture(scope="module")
def audio_folder(tmp_path_factory) -> Path:
    import soundfile

    folder = tmp_path_factory.mktemp("audio")
    for i in range(8):
        soundfile.write(folder / f"tone{i}.wav", tone(1.5, 8000, 220 * 1.2 ** i), 8000)
    soundfile.write(folder / "stereo96k.flac", tone(1.5, 96000, 330, channels=2), 96000)
    soundfile.write(folder / "silent.wav", np.zeros(12000, np.float32), 8000)
    soundfile.write(folder / "short.ogg", tone(0.2, 8000, 440), 8000)
    (folder / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio")
    return folder


@pytest.fixture(scope="module")
def mel_dataset(audio_folder, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("mel") / "dataset"
    assert main(["prepare", "--corpus", str(audio_folder), "--codec", "mel", "--out", str(out),
                 "--jobs", "1", "--quiet", "--no-cache", *SMALL,
                 "--set", "split=[0.6,0.2,0.2]"]) == 0
    return out


def test_codec_settings_are_saved_and_checked_on_load(mel_dataset) -> None:
    dataset = PreparedDataset(mel_dataset)
    codec = dataset.codec
    assert isinstance(codec, MelCodec) and codec.n_mels == 16 and codec.segment == 8
    assert dataset.config["codec"] == codec.config()
    assert dataset.main.name == "mel" and dataset.main.shape == (16,)
    assert dataset.ids.dtype == np.uint16
    with pytest.raises(CadenzaError, match="mel settings differ"):
        MelCodec(n_mels=32).check_same(codec.config(), "run")
    config = json.loads((mel_dataset / "config.json").read_text())
    config["codec"]["n_mels"] = 32
    tampered = mel_dataset.parent / "tampered"
    tampered.mkdir()
    for item in mel_dataset.iterdir():
        (tampered / item.name).write_bytes(item.read_bytes())
    (tampered / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConfigError, match="codec settings"):
        PreparedDataset(tampered)


def test_bad_audio_is_skipped_and_recorded(mel_dataset) -> None:
    manifest = json.loads((mel_dataset / "manifest.json").read_text())
    reasons = {Path(s["source"]).name: s["reason"] for s in manifest["skipped"]}
    assert set(reasons) == {"silent.wav", "short.ogg", "corrupt.wav"}
    assert "silent" in reasons["silent.wav"]
    assert "shorter than one segment" in reasons["short.ogg"]
    assert "not readable audio" in reasons["corrupt.wav"]
    assert manifest["counts"]["pieces"] == 9  # eight tones and the resampled stereo file


def test_a_stereo_96k_file_is_mixed_resampled_and_noticed(audio_folder, capsys) -> None:
    samples = read_audio((audio_folder / "stereo96k.flac").read_bytes(), "stereo96k.flac",
                         8000)
    assert samples.ndim == 1 and abs(len(samples) - 12000) <= 1
    assert "2 channel(s) at 96000 Hz, mixed to mono and resampled to 8000 Hz" in (
        capsys.readouterr().err)


def test_mel_round_trip_through_griffin_lim_keeps_the_spectrogram() -> None:
    codec = MelCodec(sample_rate=8000, n_fft=512, hop=128, n_mels=32, fmax=4000, segment=8)
    db = codec.mel_db(tone(1.0, 8000, 440)[:, 0])
    assert db.shape[1] == 32
    codes = codec.quantize(db)
    assert np.abs(codec.to_db(codec.to_model(codes)) - db).max() <= 0.005 + 1e-4
    again = codec.mel_db(codec.audio(db, iterations=32))
    loud = db > db.max() - 30  # Griffin-Lim's artefacts fill the quiet bands; the tone stays
    assert np.abs(again - db)[loud].mean() < 6.0 and abs(again.max() - db.max()) < 3.0


@pytest.fixture(scope="module")
def tiny_mel_run(mel_dataset, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("melrun") / "run"
    assert main(["train", "--preset", "mel-vae-tutorial", "--data", str(mel_dataset),
                 "--out", str(run), "--set", "model.steps=8", "--set", "model.latent=3",
                 "--set", "model.channels=8", "--set", "model.downsample=1",
                 "--set", "train.seq_len=8", "--set", "train.batch_size=4",
                 "--set", "train.max_steps=3", "--set", "train.eval_every=3",
                 "--quiet"]) == 0
    return run


def test_reconstruct_and_sample_end_to_end(tiny_mel_run, audio_folder, tmp_path,
                                           capsys) -> None:
    out = tmp_path / "out"
    assert main(["reconstruct", str(tiny_mel_run), str(audio_folder / "tone3.wav"),
                 "--out", str(out)]) == 0
    assert {p.name for p in out.iterdir()} >= {"tone3.png", "tone3-original.wav",
                                               "tone3-reconstructed.wav", "tone3-sample.wav"}
    assert "log-mel L1 of the reconstruction" in capsys.readouterr().out
    assert main(["sample", str(tiny_mel_run), "--n", "2", "--out", str(out)]) == 0
    assert (out / "sample-002.wav").exists() and (out / "samples.png").exists()
    record = json.loads((tiny_mel_run / "monitors.jsonl").read_text().splitlines()[-1])
    assert {"l1_db", "l1_db_shuffled", "active_units", "kl_per_dim"} <= set(record)


@pytest.mark.parametrize("name, message", [
    ("silent.wav", "silent"), ("short.ogg", "shorter than one segment"),
    ("corrupt.wav", "not readable audio"), ("missing.wav", "cannot open")])
def test_bad_clips_get_one_clear_line(tiny_mel_run, audio_folder, tmp_path, capsys, name,
                                      message) -> None:
    assert main(["reconstruct", str(tiny_mel_run), str(audio_folder / name),
                 "--out", str(tmp_path / "out")]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith("cadenza: error: ") and message in errors[0]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
