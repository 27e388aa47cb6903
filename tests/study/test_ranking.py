"""The study report's judgements: which way each measure ranks, which gaps are larger
than the seed-to-seed spread, and whether the ranking depends on the music."""

from __future__ import annotations

from cadenza.study.report import across_music, ranking, summarise


def _run(dataset, model, seed, nll, overlap, accuracy):
    return {"dataset": dataset, "seq_len": 24, "model": model, "name": "rnn", "seed": seed,
            "contract": "autoregressive", "params": 100, "infill_conditional": "exact",
            "nll": nll, "pseudo_nll": None, "infill_nats": nll, "infill_accuracy": accuracy,
            "wall_s": 1.0, "units_per_s": 1.0, "steps": 1, "continuation_nll_k8": nll,
            "overlap_k8": overlap, "decoded_k8": 1.0}


def _records():
    runs = []
    for seed, noise in enumerate((-0.01, 0.0, 0.01)):
        runs += [_run("bach", "a", seed, 1.0 + noise, 0.9 + noise, 0.8),
                 _run("bach", "b", seed, 1.5 + noise, 0.5 + noise, 0.6),
                 _run("bach", "c", seed, 1.0 + 5 * noise + 0.005, 0.9 + noise, 0.7),
                 _run("piano", "a", seed, 2.0 + noise, 0.7, 0.5),
                 _run("piano", "b", seed, 1.0 + noise, 0.8, 0.6)]
    return runs


def test_ranking_orders_each_measure_its_own_way_and_judges_the_spread():
    ranks = {(r["dataset"], r["measure"]): r for r in ranking(summarise(_records()))}
    nll = ranks[("bach", "nll")]
    assert nll["order"] == ["a", "c", "b"]  # lower is better
    pairs = {(p["better"], p["worse"]): p for p in nll["pairs"]}
    assert pairs[("a", "b")]["clear"] is True  # 0.5 apart, s.d.s 0.01 each
    assert pairs[("a", "c")]["clear"] is False  # 0.005 apart inside c's 0.05 s.d.
    assert ranks[("bach", "overlap_k8")]["order"][-1] == "b"  # higher is better
    assert ranks[("bach", "infill_accuracy")]["order"] == ["a", "c", "b"]
    assert all(p["gap"] >= 0 for r in ranks.values() for p in r["pairs"])
    assert ("bach", "decoded_k8") not in ranks  # a share of decodable samples, not a rank


def test_across_music_says_where_the_order_changes():
    music = {(m["seq_len"], m["measure"]): m for m in
             across_music(ranking(summarise(_records())))}
    assert music[(24, "nll")]["orders"] == {"bach": ["a", "c", "b"], "piano": ["b", "a"]}
    assert music[(24, "nll")]["same"] is False
    assert music[(24, "infill_accuracy")]["same"] is False
