"""Parameter matching, exact single-position conditionals, Gibbs continuation."""

from __future__ import annotations

import itertools

import pytest
import torch

from cadenza.errors import ConfigError
from cadenza.evaluate.infilling import InfillSet, exact_conditional, score_infilling
from cadenza.generate.gibbs import gibbs_continue
from cadenza.models import build_model
from cadenza.study.budget import match_size, parameters

TINY = {"rnn": ("rnn", {"cell": "rnn", "layers": 2, "embedding": 8}),
        "lstm": ("rnn", {"cell": "lstm", "layers": 2, "embedding": 8}),
        "bilstm": ("bilstm", {"layers": 2, "embedding": 8}),
        "transformer": ("transformer", {"layers": 2, "heads": 2, "max_context": 64})}


@pytest.mark.parametrize("target", [10000, 20000])
def test_parameter_matching_within_five_percent_for_every_pair(target):
    counts = {}
    for label, (name, options) in TINY.items():
        sized, count = match_size(name, 20, options, target, tolerance=0.025)
        assert count == parameters(name, 20, sized)
        assert abs(count - target) <= 0.025 * target
        counts[label] = count
    for a, b in itertools.combinations(counts.values(), 2):  # each pair, to each other
        assert abs(a - b) <= 0.05 * min(a, b), counts


def test_impossible_budget_is_refused_in_one_line():
    with pytest.raises(ConfigError, match="impossible parameter budget") as err:
        match_size("rnn", 5000, {"cell": "lstm", "layers": 1, "embedding": 64}, 1000)
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="unknown model 'gru2'"):
        match_size("gru2", 20, {}, 1000)


@torch.no_grad()
def _brute_force(model, ids, i, vocab):
    """p(x_i = v | rest) from the product of the model's next-token probabilities."""
    joint = []
    for v in range(vocab):
        seq = ids.clone()
        seq[i] = v
        logits, _ = model(seq[None, :-1])
        probs = torch.softmax(logits[0].double(), -1)
        p = 1.0
        for t in range(1, len(seq)):
            p *= float(probs[t - 1, seq[t]])
        joint.append(0.0 if v == 0 else p)
    total = sum(joint)
    return torch.tensor([p / total for p in joint], dtype=torch.float64)


@pytest.mark.parametrize("name,options", [("rnn", {"cell": "lstm", "layers": 1, "hidden": 8,
                                                   "embedding": 4, "dropout": 0.0}),
                                          ("transformer", {"layers": 1, "dim": 8, "heads": 2,
                                                           "dropout": 0.0,
                                                           "max_context": 16})])
def test_exact_conditional_matches_brute_force(name, options):
    torch.manual_seed(0)
    vocab = 5
    model = build_model(name, vocab, **options).eval()
    ids = torch.tensor([1, 3, 2, 4, 3, 2])
    for i in (1, 3, 5):
        got = exact_conditional(model, ids, i).exp().double()
        want = _brute_force(model, ids, i, vocab)
        assert torch.allclose(got, want, atol=1e-5), (i, got, want)
        assert got[0] == 0


def test_score_infilling_says_how_it_computed():
    torch.manual_seed(0)
    ar = build_model("rnn", 6, cell="rnn", layers=1, hidden=4, embedding=4).eval()
    bi = build_model("bilstm", 6, layers=1, hidden=4, embedding=4).eval()
    data = InfillSet(torch.tensor([[1, 2, 3, 4, 5, 0], [1, 5, 4, 3, 0, 0]]),
                     torch.tensor([2, 3]))
    exact, pseudo = score_infilling(ar, data), score_infilling(bi, data)
    assert exact["conditional"] == "exact" and pseudo["conditional"] == "pseudo"
    assert exact["positions"] == pseudo["positions"] == 2
    assert 0 < exact["infill_nats"] < 10 and 0 < pseudo["infill_nats"] < 10


def test_gibbs_continuation_keeps_the_primer_and_resamples_the_future():
    torch.manual_seed(0)
    model = build_model("bilstm", 12, layers=1, hidden=8, embedding=4)
    primer = torch.tensor([1, 7, 3, 9, 4])
    one = gibbs_continue(model, primer, length=10, sweeps=3, seed=1)
    assert one.shape == (15,)
    assert torch.equal(one[:5], primer)
    assert ((one[5:] > 0) & (one[5:] < 12)).all()  # neither padding nor MASK
    assert torch.equal(one, gibbs_continue(model, primer, length=10, sweeps=3, seed=1))
    assert not torch.equal(one, gibbs_continue(model, primer, length=10, sweeps=3, seed=2))
    with pytest.raises(ConfigError, match="sweeps"):
        gibbs_continue(model, primer, length=10, sweeps=0)


def test_run_timing_adds_up_resumed_sessions(tmp_path):
    from cadenza.train.logs import run_timing

    log = tmp_path / "log.csv"
    log.write_text("step,epoch,lr,train_loss,val_nats,val_accuracy,tokens_per_s,seconds\n"
                   "1,0,0.1,3.0,,,100,1.5\n2,0,0.1,2.9,,,300,3.0\n2,0,,,2.8,0.1,,\n"
                   "3,0,0.1,2.8,,,200,0.5\n4,0,0.1,2.7,,,400,2.0\n")
    assert run_timing(log) == {"wall_s": 5.0, "units_per_s": 250.0}
    assert run_timing(tmp_path / "missing.csv") == {"wall_s": None, "units_per_s": None}
