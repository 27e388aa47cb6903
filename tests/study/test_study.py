"""`cadenza study` end to end: the shipped smoke study, resume, refusals."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from cadenza.cli import main
from cadenza.config import DataConfig

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ROOT / "studies" / "four-way-smoke.toml"


def _write(path: Path, raw: dict) -> Path:
    """A TOML file of ``raw`` (tables of scalars, lists and inline tables)."""
    def value(v):
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + " }"
        return json.dumps(v)

    lines = []
    for section, body in raw.items():
        tables = {k: v for k, v in body.items() if isinstance(v, dict) and section != "study"
                  and section != "train"}
        plain = {k: v for k, v in body.items() if k not in tables}
        if plain:
            lines.append(f"[{section}]")
            lines += [f"{k} = {value(v)}" for k, v in plain.items()]
        for name, table in tables.items():
            lines.append(f"[{section}.{name}]")
            lines += [f"{k} = {value(v)}" for k, v in table.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def _smoke_on(folder: Path, tmp_path: Path, **study) -> tuple[dict, Path]:
    """The shipped smoke study with its chorales read from an already prepared folder."""
    raw = tomllib.loads(SMOKE.read_text())
    recipe = raw["datasets"]["chorales"]
    # the session's prepared chorales are exactly what the smoke recipe prepares
    assert DataConfig.for_corpus(recipe["corpus"], recipe["codec"]) == DataConfig()
    raw["datasets"] = {"chorales": {"path": str(folder)}}
    raw["study"].update(study)
    return raw, _write(tmp_path / "smoke.toml", raw)


def test_smoke_study_end_to_end_then_resumed(bach_prepared, tmp_path, capsys):
    raw, spec = _smoke_on(bach_prepared[0], tmp_path)
    out = tmp_path / "study"
    assert main(["study", str(spec), "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    page = (out / "report.html").read_text()
    models = [m for m in raw["models"]]
    assert len(results["runs"]) == len(models) * len(raw["study"]["seeds"])
    assert (out / "nll_vs_params.png").stat().st_size > 1000
    assert (out / "nll_vs_wall_time.png").stat().st_size > 1000
    assert (out / "overlaps.png").stat().st_size > 1000 and "overlaps.png" in page
    for rank in results["ranking"]:  # every pair judged against the seed spread
        n = len(rank["order"])
        assert len(rank["pairs"]) == n * (n - 1) // 2
        assert all(p["clear"] == (p["gap"] > p["spread"]) for p in rank["pairs"])
    nll = next(r for r in results["ranking"] if r["measure"] == "nll")
    assert "bilstm" not in nll["order"] and len(nll["order"]) == 3
    assert "pseudo-NLL" in page and "±" in page and "music overlap, k=16" in page
    assert "seed-to-seed spread" in page or "within the spread" in page
    # each model's continuation of the same primer beside the true one: roll and MIDI
    for stem in ("chorales-truth", "chorales-32-rnn", "chorales-32-lstm",
                 "chorales-32-transformer"):
        assert (out / "continuations" / f"{stem}.png").stat().st_size > 1000
        assert f"continuations/{stem}.mid" in page
    bilstm = (out / "continuations" / "chorales-32-bilstm.png").is_file()
    assert bilstm or "does not decode" in page
    counts = {row["model"]: row["params"] for row in results["summary"]}
    assert set(counts) == set(models)
    for a in counts.values():  # every pair within ±5% of each other
        for b in counts.values():
            assert abs(a - b) <= 0.05 * min(a, b)
    for run in results["runs"]:
        assert run["wall_s"] > 0 and run["units_per_s"] > 0 and run["steps"] > 0
        assert 0 < run["infill_nats"] < 10
        if run["name"] == "bilstm":  # its pseudo-likelihood never beside an AR NLL
            assert run["nll"] is None and run["pseudo_nll"] > 0
            assert run["infill_conditional"] == "pseudo"
            assert run["continuation_nll_k8"] is None
            assert 0 <= run["decoded_k8"] <= 1 and len(run["music_k8"]["samples"]) == 6
        else:
            assert run["pseudo_nll"] is None and run["nll"] > 0
            assert run["infill_conditional"] == "exact"
            assert run["continuation_nll_k8"] > 0
            assert run["decoded_k8"] == 1 and 0 < run["overlap_k8"] <= 1
    for row in results["summary"]:
        assert row["infill_nats"]["n"] == 2 and row["infill_nats"]["sd"] >= 0

    # a rerun keeps every finished run: same weights, same numbers
    runs = sorted((out / "runs").rglob("model.safetensors"))
    stamps = [p.stat().st_mtime_ns for p in runs]
    capsys.readouterr()
    assert main(["study", str(spec), "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert said.count("kept ") == len(results["runs"]) and "train " not in said
    assert [p.stat().st_mtime_ns for p in runs] == stamps
    assert json.loads((out / "results.json").read_text())["runs"] == results["runs"]

    # an unfinished run (scores not written) is resumed from its checkpoint, not retrained
    one = out / "runs" / "chorales" / "L32" / "lstm" / "seed-1"
    (one / "study-run.json").unlink()
    assert main(["study", str(spec), "--out", str(out)]) == 0
    assert f"resume {one}" in capsys.readouterr().out
    again = json.loads((out / "results.json").read_text())["runs"]
    before = [r for r in results["runs"] if (r["model"], r["seed"]) == ("lstm", 1)][0]
    after = [r for r in again if (r["model"], r["seed"]) == ("lstm", 1)][0]
    assert after["nll"] == before["nll"] and after["steps"] == before["steps"]


def _refused(spec: Path, tmp_path: Path, capsys) -> str:
    capsys.readouterr()
    assert main(["study", str(spec), "--out", str(tmp_path / "refused")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("cadenza: error: ") and "\n" not in err
    assert not list((tmp_path / "refused").rglob("config.json"))  # nothing trained
    return err


def test_unknown_model_is_refused(bach_prepared, tmp_path, capsys):
    raw, _ = _smoke_on(bach_prepared[0], tmp_path)
    raw["models"]["gru"] = {"model": "gru2"}
    err = _refused(_write(tmp_path / "bad.toml", raw), tmp_path, capsys)
    assert "unknown model 'gru2'" in err


def test_impossible_budget_is_refused(bach_prepared, tmp_path, capsys):
    _, spec = _smoke_on(bach_prepared[0], tmp_path, params=300)
    assert "impossible parameter budget 300" in _refused(spec, tmp_path, capsys)


def test_empty_dataset_is_refused(satb_folder, tmp_path, capsys):
    from cadenza.corpus.prepare import prepare

    data = tmp_path / "no-test"
    prepare(DataConfig(corpus=str(satb_folder(3)), split=[1.0, 0.0, 0.0]), data, jobs=1,
            cache_dir=None, progress=False)
    _, spec = _smoke_on(data, tmp_path)
    assert "is empty: no test pieces" in _refused(spec, tmp_path, capsys)


def test_search_without_a_space_or_over_a_size_is_refused(bach_prepared, tmp_path, capsys):
    _, spec = _smoke_on(bach_prepared[0], tmp_path, search_trials=4)
    assert "needs study.search_space" in _refused(spec, tmp_path, capsys)
    (tmp_path / "sizes.toml").write_text('[params]\n"model.hidden" = { low = 8, high = 64 }\n')
    _, spec = _smoke_on(bach_prepared[0], tmp_path, search_trials=4,
                        search_space="sizes.toml")
    assert "not model.hidden" in _refused(spec, tmp_path, capsys)


def test_every_model_gets_the_same_search_budget(bach_prepared, tmp_path, capsys):
    raw, spec = _smoke_on(bach_prepared[0], tmp_path, search_trials=2, seeds=[0],
                          search_space=str(ROOT / "studies" / "four-way-space.toml"))
    raw["models"] = {k: raw["models"][k] for k in ("lstm", "bilstm")}
    spec = _write(tmp_path / "search.toml", raw)
    out = tmp_path / "study"
    assert main(["study", str(spec), "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert said.count("search ") == 2
    for label in ("lstm", "bilstm"):
        trials = (out / "search" / "chorales" / label / "results.csv").read_text()
        assert len(trials.strip().splitlines()) == 1 + 2  # header and two trials
        best = json.loads((out / "search" / "chorales" / label / "study-search.json")
                          .read_text())
        run = out / "runs" / "chorales" / "L32" / label / "seed-0"
        config = json.loads((run / "config.json").read_text())
        assert config["train"]["lr"] == best["params"]["train.lr"]
        assert config["model"]["dropout"] == best["params"]["model.dropout"]
        assert json.loads((run / "study-run.json").read_text())["search"] == best
    assert main(["study", str(spec), "--out", str(out)]) == 0  # the searches are kept
    assert "search " not in capsys.readouterr().out


def test_a_bidirectional_run_is_evaluated_but_never_sampled_left_to_right(
        bach_prepared, tmp_path, capsys):
    raw, _ = _smoke_on(bach_prepared[0], tmp_path, seeds=[0])
    raw["models"] = {"bilstm": raw["models"]["bilstm"]}
    spec = _write(tmp_path / "bi.toml", raw)
    assert main(["study", str(spec), "--out", str(tmp_path / "study")]) == 0
    run = tmp_path / "study" / "runs" / "chorales" / "L32" / "bilstm" / "seed-0"
    capsys.readouterr()
    assert main(["evaluate", str(run), "--split", "test"]) == 0
    assert "pseudo nats/tok" in capsys.readouterr().out
    lstm = tmp_path / "lstm"
    assert main(["train", "--preset", "tiny", "--data", str(bach_prepared[0]), "--out",
                 str(lstm), "--set", "train.max_steps=20", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["compare", str(lstm)]) == 0  # wall time and throughput beside each run
    head, row = capsys.readouterr().out.strip().splitlines()
    assert head.split()[-3:] == ["train", "s", "units/s"]
    assert float(row.split()[-2]) > 0 and float(row.split()[-1]) > 0
    assert main(["compare", str(run)]) == 0  # scored by its own objective, in its own unit
    row = capsys.readouterr().out.strip().splitlines()[1]
    assert "bilstm" in row and "pseudo-nats/token" in row
    assert main(["generate", str(run), "--out", str(tmp_path / "gen")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"cadenza: error: {run} holds a whole-sequence model (bilstm), which "
                   "cannot sample left to right")


@pytest.mark.parametrize("key,value,message", [
    ("primers", [0, 8], "study.primers must be a non-empty list of integers >= 1"),
    ("seeds", [], "study.seeds must be a non-empty list"),
    ("tolerance", 1.5, "study.tolerance must be in (0, 1)"),
    ("params", 0, "study.params must be >= 1"),
])
def test_bad_study_values_are_refused(bach_prepared, tmp_path, capsys, key, value, message):
    _, spec = _smoke_on(bach_prepared[0], tmp_path, **{key: value})
    assert message in _refused(spec, tmp_path, capsys)


TIMING = ("wall_s", "units_per_s")


def test_a_study_repeats_its_numbers_at_the_same_seeds_in_parallel(bach_prepared, tmp_path):
    """The same TOML and seeds give the same numbers, however many runs train at once:
    every run is budgeted in tokens (no clock) and each owns its process."""
    raw, _ = _smoke_on(bach_prepared[0], tmp_path, seeds=[0], tokens=2000)
    raw["models"] = {k: raw["models"][k] for k in ("lstm", "transformer")}
    spec = _write(tmp_path / "repeat.toml", raw)
    found = []
    for jobs in ("1", "2"):
        out = tmp_path / f"jobs-{jobs}"
        assert main(["study", str(spec), "--out", str(out), "--jobs", jobs]) == 0
        runs = json.loads((out / "results.json").read_text())["runs"]
        found.append([{k: v for k, v in r.items() if k not in TIMING} for r in runs])
    assert found[0] == found[1]
    transformer = next(r for r in found[0] if r["model"] == "transformer")
    # 2000 tokens in batches of 8 windows of 32: 8 steps, whatever the clock says
    assert transformer["steps"] == 8 and transformer["stopped"] == "max_steps"
    run = tmp_path / "jobs-1" / "runs" / "chorales" / "L32" / "transformer" / "seed-0"
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["max_context"] == 32  # its context is its training window
    assert transformer["continuation_nll_k16"] > 0 and transformer["decoded_k16"] > 0


def test_set_changes_one_value_of_the_study_and_refuses_a_wrong_table(tmp_path):
    from cadenza.errors import ConfigError
    from cadenza.study.spec import load_study

    spec = load_study(SMOKE, ["study.tokens=12000", "study.seq_lens=[24, 48]",
                              "train.lr=0.001", "models.rnn.cell=gru"])
    assert spec.tokens == 12000 and spec.seq_lens == [24, 48]
    assert spec.train["lr"] == 0.001
    assert next(m for m in spec.models if m.label == "rnn").options["cell"] == "gru"
    for bad, message in (("studdy.tokens=1", "the study has no table studdy"),
                         ("tokens", "expected SECTION.KEY=VALUE"),
                         ("study.tokens=-5", "study.tokens must be >= 1")):
        with pytest.raises(ConfigError, match=message):
            load_study(SMOKE, [bad])
