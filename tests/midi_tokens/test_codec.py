"""The MidiTok codec: round trips for every option set shipped, roles from the spec,
notes counted for nats/note, options as JSON, one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from tests.midi_tokens.midi_files import random_piece

from cadenza.codecs import Vocab, build_codec, codec_from_config
from cadenza.errors import ConfigError
from cadenza.io.read import read_midi_bytes

OPTION_SETS = [
    {"tokenization": "REMI"},
    {"tokenization": "TSD"},
    {"tokenization": "REMI", "programs": False, "velocities": 0},
    {"tokenization": "TSD", "programs": False, "sustain_pedal": False, "tempos": False},
    {"tokenization": "REMI", "steps_per_quarter": 4, "chords": True, "rests": True},
    {"tokenization": "TSD", "time_signatures": False, "velocities": 8, "rests": True},
]


@pytest.mark.parametrize("options", OPTION_SETS, ids=lambda o: json.dumps(o))
def test_encode_decode_encode_is_the_identity(options) -> None:
    codec = build_codec("miditok", **options)
    for seed in range(3):
        score = read_midi_bytes(random_piece(np.random.default_rng(seed)), drums=True)
        codes = codec.encode(score)
        assert codes.dtype == np.uint16 and len(codes) > 20
        decoded = codec.decode(codes)
        assert len(decoded.notes) > 0
        assert np.array_equal(codec.encode(decoded), codes)


def test_programs_and_drums_survive_the_tokens() -> None:
    codec = build_codec("miditok")
    score = read_midi_bytes(random_piece(np.random.default_rng(1)), drums=True)
    decoded = codec.decode(codec.encode(score))
    assert sorted(zip(decoded.programs, decoded.drums)) == [(0, False), (0, True), (33, False)]
    assert decoded.pedals is not None and len(decoded.pedals) == 4
    velocities = np.unique(decoded.notes["velocity"])
    assert len(velocities) > 8  # velocities kept (in 32 bins)


def test_roles_counts_and_pitches() -> None:
    codec = build_codec("miditok", tokenization="TSD")
    score = read_midi_bytes(random_piece(np.random.default_rng(2)), drums=True)
    codes = codec.encode(score)
    vocab = Vocab.build(codec, codes)
    assert vocab.role_id("bos") == vocab.id("BOS_None") == vocab.encode(codes)[0]
    assert vocab.role_id("eos") == vocab.encode(codes)[-1]
    assert codec.count_notes(codes) == len(score.notes)
    pitches = [codec.pitch_of_code(int(c)) for c in codes]
    assert sorted(p for p in pitches if p is not None) == sorted(
        score.notes["pitch"][~score.drum_notes()].tolist())
    assert codec.pitch_of_code(codec.code_of("PitchDrum_36")) is None


def test_options_rebuild_the_same_tokenizer_from_json() -> None:
    codec = build_codec("miditok", tokenization="TSD", steps_per_quarter=4, velocities=16)
    again = codec_from_config(json.loads(json.dumps(codec.config())))
    assert again.config() == codec.config()
    assert again.tokenizer.vocab == codec.tokenizer.vocab


@pytest.mark.parametrize("options", [{"tokenization": "MIDILike"}, {"steps_per_quarter": 7},
                                     {"velocities": 300}])
def test_bad_options_are_one_clear_error(options) -> None:
    with pytest.raises(ConfigError, match="codec 'miditok'"):
        build_codec("miditok", **options)
