"""Harmonization: the given part survives every method exactly; bad melodies fail clearly."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cadenza.codecs import Vocab, build_codec
from cadenza.codecs.chorale import FIRST_NOTE
from cadenza.codecs.grid import CLASSES, MASK, REST, grid_to_score, score_to_grid
from cadenza.errors import CadenzaError
from cadenza.harmonize.api import Harmonizer
from cadenza.harmonize.grid import error_rates, parse_voices
from cadenza.harmonize.infill import repair_ties
from cadenza.harmonize.melody import load_melody
from cadenza.io import write_midi, write_musicxml
from cadenza.models import build_model
from cadenza.models.infill import InfillConfig, InfillModel
from cadenza.score import Score, TimeSignature, make_notes

Q = 480


def full_vocab() -> Vocab:
    codec = build_codec("chorale")
    return Vocab.build(codec, range(FIRST_NOTE, codec.code_space))


@pytest.fixture(scope="module")
def harmonizers():
    torch.manual_seed(0)
    vocab = full_vocab()
    lm = build_model("rnn", len(vocab), layers=1, hidden=16, embedding=8, dropout=0.0)
    infill = InfillModel(4, InfillConfig(layers=1, dim=16, heads=2, dropout=0.0)).eval()
    return {"lm": Harmonizer("lm", lm.eval(), vocab), "infill": Harmonizer("infill", infill)}


def melody_score(pitches, lengths, rests=(), key=None, meter=(4, 4)) -> Score:
    """A one-part melody; ``lengths`` in 16ths; indices in ``rests`` become rests."""
    rows, onset = [], 0
    for i, (p, n) in enumerate(zip(pitches, lengths)):
        if i not in rests:
            rows.append((onset, n * Q // 4, p))
        onset += n * Q // 4
    o, d, p = map(np.array, zip(*rows))
    return Score(make_notes(onset=o, duration=d, pitch=p), ["Soprano"], key=key,
                 time_signatures=[TimeSignature(0, *meter)])


melodies = st.lists(
    st.tuples(st.integers(62, 77), st.sampled_from([1, 2, 4, 6, 8, 12])), min_size=2,
    max_size=14,
).flatmap(lambda notes: st.tuples(st.just(notes), st.sets(st.integers(1, len(notes) - 1),
                                                           max_size=2)))


@settings(max_examples=12, deadline=None)
@given(melodies, st.sampled_from(["greedy", "beam", "sample", "infill", "gibbs"]))
def test_given_part_is_kept_note_for_note(harmonizers, tmp_path_factory, case, method):
    notes, rests = case
    pitches, lengths = zip(*notes)
    melody = melody_score(pitches, lengths, rests)
    path = tmp_path_factory.mktemp("m") / "melody.mid"
    write_midi(melody, path)
    task = load_melody(path, [0])
    harmonizer = harmonizers["lm" if method in ("greedy", "beam", "sample") else "infill"]
    filled, _ = harmonizer.fill(task.cells, task.fermata, method, width=2, seed=1)
    assert (filled != MASK).all()
    out = task.to_score(filled)
    soprano = out.select_parts([0]).merge_ties().notes
    original = melody.merge_ties().notes
    for column in ("onset", "duration", "pitch"):
        assert np.array_equal(soprano[column], original[column]), column
    assert out.parts == ["Soprano", "Alto", "Tenor", "Bass"]
    assert len(out.select_parts([1, 2, 3]).notes) > 0


def test_transposition_there_and_back_is_exact(tmp_path):
    melody = melody_score([66, 68, 70, 71, 73], [4, 4, 4, 4, 8])  # F# major-ish
    path = tmp_path / "m.mid"
    write_midi(melody, path)
    task = load_melody(path, [0])
    assert task.shift != 0
    restored = task.to_score(np.where(task.cells == MASK, REST, task.cells))
    assert np.array_equal(restored.notes["pitch"], melody.notes["pitch"])


def test_bass_and_two_given_voices(harmonizers, tmp_path):
    full = Score(make_notes(onset=[0, 0, Q, Q], duration=[Q] * 4, pitch=[72, 48, 71, 43],
                            part=[0, 1, 0, 1]), ["Soprano", "Bass"])
    path = tmp_path / "sb.mid"
    write_midi(full, path)
    task = load_melody(path, parse_voices("SB"))
    assert (task.cells[[1, 2]] == MASK).all() and (task.cells[[0, 3]] != MASK).all()
    filled, _ = harmonizers["lm"].fill(task.cells, task.fermata, "greedy")
    assert np.array_equal(filled[[0, 3]], task.cells[[0, 3]])
    bass_only = load_melody(path, parse_voices("B"))  # two parts, one given: the top one...
    assert any("top" in n for n in bass_only.notices)


def test_out_of_range_melody_moves_by_octaves_or_fails(tmp_path):
    high = tmp_path / "high.mid"
    write_midi(melody_score([96, 98, 100], [4, 4, 8], key=None), high)
    task = load_melody(high, [0])
    assert any("octave" in n for n in task.notices)
    wide = tmp_path / "wide.mid"
    write_midi(melody_score([40, 90], [4, 4]), wide)
    with pytest.raises(CadenzaError, match="range"):
        load_melody(wide, [0])


@pytest.mark.parametrize("problem", ["empty", "garbage", "meter", "chord", "no-notes"])
def test_bad_melodies_give_clear_errors(tmp_path, problem):
    path = tmp_path / "bad.mid"
    if problem == "empty":
        path.write_bytes(b"")
    elif problem == "garbage":
        path.write_bytes(b"not a midi file at all")
    elif problem == "meter":
        write_midi(melody_score([72, 74, 76], [4, 4, 4], meter=(3, 4)), path)
    elif problem == "chord":
        chord = Score(make_notes(onset=[0, 0], duration=[Q, Q], pitch=[72, 76]), ["Soprano"])
        path = tmp_path / "bad.musicxml"
        write_musicxml(chord, path)
    else:
        path = tmp_path / "bad.musicxml"
        write_musicxml(Score(make_notes(pitch=[]), ["Soprano"]), path)
    with pytest.raises(CadenzaError) as err:
        load_melody(path, [0])
    assert "\n" not in str(err.value)


def test_grid_round_trip_and_error_rates():
    rows = [(0, 2 * Q, 72, 0, True), (0, Q, 64, 1, False), (Q, Q, 65, 1, False),
            (0, 2 * Q, 55, 2, False), (0, 2 * Q, 48, 3, False)]
    o, d, p, part, fermata = map(np.array, zip(*rows))
    score = Score(make_notes(onset=o, duration=d, pitch=p, part=part, fermata=fermata),
                  ["Soprano", "Alto", "Tenor", "Bass"])
    cells, marks = score_to_grid(score)
    assert cells.shape == (4, 8) and marks[0] and not marks[1:].any()
    back = grid_to_score(cells, marks)
    assert np.array_equal(back.notes[["onset", "duration", "pitch", "part"]],
                          score.notes[["onset", "duration", "pitch", "part"]])
    wrong = cells.copy()
    wrong[1, 4:] = wrong[1, 4:] + 2  # the alto's second note a semitone higher
    rates = error_rates(wrong, cells, [1, 2, 3])
    assert rates["token_error"] == pytest.approx(4 / 24)
    assert rates["frame_error"] == pytest.approx(4 / 8)


def test_repair_ties_starts_notes_that_continue_nothing():
    cells = np.array([[1 + 2 * 60, 1 + 2 * 62 + 1, REST, 1 + 2 * 64 + 1]])
    assert repair_ties(cells).tolist() == [[121, 125, REST, 129]]


def test_evaluate_harmony_on_tiny_models(harmonizers, tmp_path):
    from cadenza.evaluate.harmony import evaluate_harmony, format_harmony

    class Tiny:  # the parts of PreparedDataset that the evaluation reads
        codec = build_codec("chorale")
        vocab = full_vocab()

        def __init__(self):
            rng = np.random.default_rng(0)
            self.scores = []
            for _ in range(2):
                rows = [(k * Q, Q, int(c + rng.integers(-3, 4)), v)
                        for v, c in enumerate((72, 65, 57, 48)) for k in range(8)]
                o, d, p, part = map(np.array, zip(*rows))
                self.scores.append(Score(make_notes(onset=o, duration=d, pitch=p, part=part),
                                         ["Soprano", "Alto", "Tenor", "Bass"]))

        def indices(self, split, augmented=True):
            return [0, 1]

        def tokens(self, i):
            return self.vocab.encode(self.codec.encode(self.scores[i]))

    for kind, method in (("lm", "greedy"), ("infill", "infill")):
        result = evaluate_harmony(harmonizers[kind], Tiny(), method=method, tasks=("S", "ATB"))
        for task in ("S", "ATB"):
            row = result["tasks"][task]
            assert 0 <= row["token_error"] <= row["frame_error"] <= 1
            assert row["truth_nll"] > 0
        assert "Bach" in format_harmony(result)


def _grid(frames: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    pitches = rng.integers(50, 70, size=(frames, 4)) + np.array([14, 7, 0, -10])
    cells = torch.from_numpy(1 + 2 * pitches)
    cells[:, 1:] = MASK
    return cells, torch.zeros(frames, dtype=torch.bool)


def test_predictor_windows_see_only_their_window(harmonizers):
    from cadenza.harmonize.infill import Predictor

    model = harmonizers["infill"].model
    cells, fermata = _grid(40)
    whole = Predictor(model).log_probs(cells, fermata)
    assert whole.shape == (40, 4, CLASSES)
    torch.testing.assert_close(whole.logsumexp(-1), torch.zeros(40, 4))
    # a window longer than the grid is the whole grid
    torch.testing.assert_close(Predictor(model, window=64).log_probs(cells, fermata), whole)
    windowed = Predictor(model, window=16)
    before = windowed.log_probs(cells, fermata)
    torch.testing.assert_close(before.logsumexp(-1), torch.zeros(40, 4))
    changed = cells.clone()
    changed[30, 0] += 4  # frame 0 lies only in the first window (frames 0-15)
    after = windowed.log_probs(changed, fermata)
    torch.testing.assert_close(after[0], before[0])
    assert not torch.allclose(after[30], before[30])
    assert not torch.allclose(Predictor(model).log_probs(changed, fermata)[0], whole[0])


def test_transposition_ensemble_moves_pitches_back():
    from cadenza.harmonize.infill import _shift_classes

    logp = torch.log_softmax(torch.randn(3, CLASSES), -1)
    up = _shift_classes(logp, 2)
    p = 60
    for tied in (0, 1):
        assert up[0, 1 + 2 * (p + 2) + tied] == logp[0, 1 + 2 * p + tied]
    assert torch.equal(up[:, REST], logp[:, REST])
    torch.testing.assert_close(_shift_classes(up, -2)[:, 10:-10], logp[:, 10:-10])


def test_windowed_ensemble_keeps_the_melody(harmonizers):
    from cadenza.harmonize.api import Harmonizer

    windowed = Harmonizer("infill", harmonizers["infill"].model, window=16, transpositions=1)
    cells, fermata = _grid(50, seed=3)
    cells = cells.T.numpy().copy()
    for method in ("infill", "gibbs"):
        filled, _ = windowed.fill(cells, fermata.numpy(), method, seed=2)
        assert (filled != MASK).all()
        assert np.array_equal(filled[0], cells[0])


def test_transposition_ensemble_is_a_normalized_mixture(harmonizers):
    from cadenza.harmonize.infill import Predictor, _shift_classes

    model = harmonizers["infill"].model
    cells, fermata = _grid(24)
    mixed = Predictor(model, transpositions=1).log_probs(cells, fermata)
    torch.testing.assert_close(mixed.logsumexp(-1), torch.zeros(24, 4))
    experts = []
    for shift in (-1, 0, 1):
        moved = torch.where((cells != MASK) & (cells != REST), cells + 2 * shift, cells)
        experts.append(_shift_classes(Predictor(model).log_probs(moved, fermata), -shift).exp())
    expected = torch.stack(experts).mean(0)
    expected = expected / expected.sum(-1, keepdim=True)
    torch.testing.assert_close(mixed.exp(), expected, atol=1e-6, rtol=1e-4)


def test_sampling_methods_draw_through_the_processors(harmonizers, tmp_path):
    """One sampling chain for every command: top-k 1 makes sampling the greedy search, and
    a temperature of 0 is refused as `generate` refuses it, not made greedy."""
    from cadenza.errors import ConfigError
    from cadenza.generate.processors import sampling_processors

    path = tmp_path / "m.mid"
    write_midi(melody_score([72, 74, 76, 77, 79], [4, 4, 4, 4, 16]), path)
    task = load_melody(path, [0])
    lm = harmonizers["lm"]
    greedy, _ = lm.fill(task.cells, task.fermata, "greedy")
    for seed in (1, 2):
        drawn, _ = lm.fill(task.cells, task.fermata, "sample", seed=seed,
                           processors=sampling_processors(top_k=1))
        assert np.array_equal(drawn, greedy)
    hot = [lm.fill(task.cells, task.fermata, "sample", seed=s,
                   processors=sampling_processors(temperature=50.0))[0] for s in (1, 2)]
    assert not np.array_equal(hot[0], hot[1])
    for bad in (0.0, -1.0):
        with pytest.raises(ConfigError, match="temperature must be > 0"):
            sampling_processors(temperature=bad)


@pytest.mark.parametrize("method", ["greedy", "sample", "infill", "gibbs"])
def test_harmonize_refuses_a_temperature_of_zero_for_every_method(tmp_path, capsys, method):
    from cadenza.cli import main

    path = tmp_path / "m.mid"
    write_midi(melody_score([72, 74, 76, 77, 79], [4, 4, 4, 4, 16]), path)
    code = main(["harmonize", str(path), "--method", method, "--temperature", "0",
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "--temperature: must be in (0, 100], got 0.0" in err[0]
    # the same check as generate's, word for word after the command name
    assert main(["generate", "--temperature", "0", "--out", str(tmp_path / "g")]) == 2
    generate_err = capsys.readouterr().err.strip()
    check = "argument --temperature: must be in (0, 100], got 0.0"
    assert check in generate_err and check in err[0]


def test_lm_search_ranks_fills_by_their_joint_log_probability(harmonizers):
    from cadenza.codecs.grid import cell_code
    from cadenza.evaluate.harmony import grid_tokens
    from cadenza.generate.decode import log_prob
    from cadenza.harmonize.lm import harmonize_lm

    model, vocab = harmonizers["lm"].model, harmonizers["lm"].vocab
    cells = np.full((4, 24), MASK)
    pitches = [72, 74, 76, 74, 72, 71]
    cells[0] = [cell_code(p, f % 4 > 0) for p in pitches for f in range(4)]
    fermata = np.zeros(24, dtype=bool)
    fermata[20] = True
    joint = {}
    for width in (1, 4):
        filled, per_token = harmonize_lm(model, vocab, cells, fermata, width=width)
        assert np.array_equal(filled[0], cells[0])
        ids = vocab.encode(np.array(grid_tokens(filled, fermata)[0]))
        joint[width] = log_prob(model, vocab, ids, 1, grammar=None)
        assert per_token * (len(ids) - 1) == pytest.approx(joint[width], abs=1e-3)
    assert joint[4] >= joint[1] - 1e-6
