"""`engine tune` as a user runs it: a study in the data directory's SQL database, resumed by
the next run, its best settings trained again, registered and written as an engine.toml."""

from __future__ import annotations

from pathlib import Path

import optuna

from entrypoints.settings import load_settings

TUNE = ("tune", "--study", "small", "--model", "gat-basic", "--epochs", "2")


def test_tune_records_its_trials_resumes_the_study_and_registers_the_best(engine, small_raw_dir):
    engine.json("ingest", small_raw_dir)
    first = engine.json(*TUNE, "--trials", "3")
    assert first["trials_total"] == 3 and first["trials_complete"] >= 1
    assert first["best_value"] > 0 and {"lr", "l2", "negatives", "members"} <= first["best_params"].keys()
    storage = f"sqlite:///{engine.cwd / 'engine-data' / 'engine.db'}"
    study = optuna.load_study(study_name="small", storage=storage)
    assert len(study.trials) == 3  # in the configured SQL store, where other processes see them

    again = engine.json(*TUNE, "--trials", "1")
    assert again["trials_total"] == 4 and again["best_value"] >= first["best_value"]
    versions = engine.json("models", "list")
    assert [v["version"] for v in versions] == [first["version"], again["version"]] == [1, 2]
    assert all(v["status"] == "candidate" for v in versions)  # tune promotes only when asked
    assert versions[1]["settings"]["lr"] == again["best_params"]["lr"]

    written = Path(again["settings_file"])  # an engine.toml of the best settings
    settings = load_settings(config_file=written)
    assert settings.training_spec().lr == again["best_params"]["lr"]
    assert all(Path(plot).stat().st_size > 0 for plot in again["plots"])


def test_tune_refuses_what_it_cannot_search(engine, small_raw_dir):
    engine.json("ingest", small_raw_dir)
    no_stop = engine("tune", "--study", "s")
    assert no_stop.exit_code == 2 and "--trials" in no_stop.stderr
    popularity = engine("tune", "--study", "s", "--trials", "1", "--model", "popularity")
    assert popularity.exit_code == 2
