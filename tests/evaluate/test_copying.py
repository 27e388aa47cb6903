"""The copy detector finds planted copies, also transposed ones."""

import numpy as np

from cadenza.evaluate.copying import CopyDetector, _SuffixAutomaton
from cadenza.score import Score, make_notes

Q = 480
SATB = ["Soprano", "Alto", "Tenor", "Bass"]


def random_chorale(rng, quarters=32):
    rows = []
    for part, centre in enumerate((72, 65, 58, 48)):
        pitches = centre + rng.integers(-4, 5, size=quarters)
        rows += [(k * Q, Q, int(p), part) for k, p in enumerate(pitches)]
    onset, duration, pitch, part = map(np.array, zip(*rows))
    return Score(make_notes(onset=onset, duration=duration, pitch=pitch, part=part), SATB)


def window(score, start_q, end_q):
    n = score.notes
    keep = (n["onset"] >= start_q * Q) & (n["onset"] < end_q * Q)
    part = n[keep].copy()
    part["onset"] -= start_q * Q
    return Score(part, SATB)


def test_suffix_automaton_longest_match():
    sam = _SuffixAutomaton()
    for s in [1, 2, 3, 4, 5, -1, 2, 3, 9]:
        sam.add(s)
    assert sam.longest_match([7, 2, 3, 4, 8]) == 3
    assert sam.longest_match([5, 2]) == 1  # the separator stops 5 -> 2 from matching
    assert sam.longest_match([]) == 0


def test_planted_copy_is_found_and_flagged():
    rng = np.random.default_rng(0)
    training = [random_chorale(rng) for _ in range(20)]
    detector = CopyDetector(training, max_bars=4)
    fresh = detector.check(random_chorale(np.random.default_rng(99)))
    assert fresh.longest_run_frames < 8 and not fresh.flagged
    copied = window(training[7], 4, 28)  # six bars of a training piece
    report = detector.check(copied)
    assert report.longest_run_frames == 24 * 4 and report.flagged
    assert report.best_shift == 0
    assert report.ngram_share == 1.0


def test_transposed_copy_is_found():
    rng = np.random.default_rng(1)
    training = [random_chorale(rng) for _ in range(10)]
    detector = CopyDetector(training)
    report = detector.check(window(training[3], 0, 12).transpose(3))
    assert report.longest_run_frames == 12 * 4
    assert report.best_shift == -3
