"""Continuing a primer keeps its opening exactly and returns to its key."""

from __future__ import annotations

import pytest

from cadenza.errors import CadenzaError
from cadenza.generate.continuation import continue_primer, load_primer
from cadenza.io import read


def test_continuation_keeps_the_primer_frames(rnn, vocab, codec, make_satb_midi,
                                               tmp_path) -> None:
    path = make_satb_midi(tmp_path / "primer.mid", seed=4, bars=2)
    primer = load_primer(path, codec, vocab, frames=12)
    assert primer.frames == 12 and primer.ids[-1] == vocab.id("|||")
    kept = codec.frames(vocab.decode(primer.ids))
    assert len(kept) == 12
    scores = continue_primer(rnn, vocab, codec, primer, n=2, max_tokens=120, seed=2)
    for score in scores:
        again = codec.frames(codec.encode(score.transpose(primer.shift)))
        assert again[:12] == kept
    # in the primer's own key: the notes starting in the kept frames are the file's
    cut = 12 * 120
    original = read(path)[0]
    want = sorted((int(n["onset"]), int(n["pitch"])) for n in original.notes
                  if n["onset"] < cut)
    got = sorted((int(n["onset"]), int(n["pitch"])) for n in scores[0].notes
                 if n["onset"] < cut and not n["tied"])
    assert got == want


def test_bars_and_notes(vocab, codec, make_satb_midi, tmp_path) -> None:
    path = make_satb_midi(tmp_path / "primer.mid", seed=1, bars=2)
    assert load_primer(path, codec, vocab, bars=1).frames == 16
    assert load_primer(path, codec, vocab, bars=9).frames == 32  # the whole primer
    assert load_primer(path, codec, vocab, notes=1).frames == 1
    assert load_primer(path, codec, vocab).frames == 32


def test_bad_primers_give_one_line(vocab, codec, tmp_path) -> None:
    bad = tmp_path / "bad.mid"
    bad.write_text("not midi")
    for path in (bad, tmp_path / "missing.mid"):
        with pytest.raises(CadenzaError) as err:
            load_primer(path, codec, vocab, frames=4)
        assert "\n" not in str(err.value) and str(path) in str(err.value)
    with pytest.raises(CadenzaError, match="only one"):
        load_primer(bad, codec, vocab, frames=4, bars=1)
