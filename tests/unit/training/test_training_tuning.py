"""Hyperparameter tuning: search-space sampling, the budget, early stopping and pruning, the job's trials.json."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest

from airsage.training.tuning import (COMPLETED, PRUNED, TuningConfig, candidates, run_tuning,
                                     tuning_hyperparameters)

SPACE = {"max_depth": [2, 4], "eta": [0.01, 0.3], "subsample": [0.6, 1.0]}


def test_random_candidates_are_deterministic_within_bounds_and_typed():
    a = candidates(SPACE, "random", 20, seed=3)
    assert a == candidates(SPACE, "random", 20, seed=3) and a != candidates(SPACE, "random", 20, seed=4)
    assert len(a) == 20
    for c in a:
        assert isinstance(c["max_depth"], int) and 2 <= c["max_depth"] <= 4
        assert 0.01 <= c["eta"] <= 0.3 and 0.6 <= c["subsample"] <= 1.0
    # eta spans a factor of 30: sampled log-uniformly, so about half the draws fall below sqrt(0.01*0.3) ~ 0.055
    etas = [c["eta"] for c in candidates(SPACE, "random", 400, seed=0)]
    assert 0.35 < sum(e < 0.0548 for e in etas) / len(etas) < 0.65


def test_grid_spreads_the_budget_and_takes_explicit_levels():
    g = candidates({"max_depth": [2, 6], "eta": [0.1, 0.3]}, "grid", 4, seed=0)
    assert g == [{"eta": 0.1, "max_depth": 2}, {"eta": 0.1, "max_depth": 6},
                 {"eta": 0.3, "max_depth": 2}, {"eta": 0.3, "max_depth": 6}]
    g = candidates({"max_depth": [3, 5, 7]}, "grid", 10, seed=0)
    assert [c["max_depth"] for c in g] == [3, 5, 7]
    assert len(candidates(SPACE, "grid", 5, seed=0)) == 5


def test_bad_space_is_a_config_error():
    from airsage.errors import ConfigError

    with pytest.raises(ConfigError, match="low 5 > high 2"):
        candidates({"max_depth": [5, 2]}, "random", 2, seed=0)


@pytest.fixture(scope="module")
def tuned(small_frame, tiny_cfg):
    cfg = replace(tiny_cfg, hyperparameters={"num_round": 40, "nthread": 1})
    # trial 0 learns; trials 1-2 cannot split (min_child_weight 1e6): hopeless, pruned after 30% of 40 rounds
    # (early stopping is set beyond the budget here, else it would stop the flat trials first)
    tuning = TuningConfig(max_trials=3, strategy="grid", early_stopping_rounds=50, prune_margin=0.05,
                          search_space={"min_child_weight": [1, 1_000_000, 1_000_000], "max_depth": [3, 3, 3]})
    return run_tuning(small_frame, cfg, tuning)


def test_tuning_budget_statuses_and_pruning(tuned):
    assert [t.trial for t in tuned.trials] == [0, 1, 2]
    assert tuned.trials[0].status == COMPLETED and tuned.trials[0].metric > 0.6
    for t in tuned.trials[1:]:
        assert t.status == PRUNED and t.rounds == 12 and t.metric is None  # ceil(0.3 * 40)
    assert tuned.best_trial == 0


def test_best_model_is_refit_with_its_best_round_count(tuned):
    best = tuned.trials[0]
    assert tuned.best_hyperparameters["num_round"] == best.best_iteration + 1
    assert tuned.result.bundle.booster.num_boosted_rounds() == best.best_iteration + 1
    assert 0.6 < tuned.result.evaluation.auc <= 1.0


def test_trials_document_layout(tuned):
    d = json.loads(json.dumps(tuned.to_dict()))
    assert d["objective"] == "auc" and d["direction"] == "Maximize" and d["best_trial"] == 0
    assert [t["status"] for t in d["trials"]] == ["Completed", "Pruned", "Pruned"]
    assert set(d["trials"][0]) >= {"trial", "params", "metric", "status", "rounds", "best_iteration"}


def test_log_loss_is_minimised(small_frame, tiny_cfg):
    cfg = replace(tiny_cfg, hyperparameters={"num_round": 15, "nthread": 1}, baseline_algorithm="none")
    t = run_tuning(small_frame.head(2000), cfg, TuningConfig(max_trials=2, objective="log_loss", prune_margin=None,
                                                             search_space={"max_depth": [2, 3]}, seed=5))
    done = [x for x in t.trials if x.status == COMPLETED]
    assert t.maximize is False and t.best_trial == min(done, key=lambda x: x.metric).trial


def test_tune_entrypoint_writes_trials_and_best_model(run_job, small_frame, credit_uc):
    from airsage.entrypoints import tune

    uc = credit_uc.model_copy(update={"training": credit_uc.training.model_copy(update={
        "hyperparameters": {"num_round": 20, "nthread": 1}, "baseline_algorithm": "none",
        "tuning": credit_uc.training.tuning.model_copy(update={"max_trials": 2, "search_space": {"max_depth": [2, 3]}})})})
    model, data = run_job(tune.main, small_frame.head(2000), tuning_hyperparameters(uc))
    trials = json.loads((data / "trials.json").read_text())
    assert len(trials["trials"]) == 2 and trials["best_trial"] in (0, 1)
    metrics = json.loads((data / "metrics.json").read_text())
    assert metrics["tuning"]["best_trial"] == trials["best_trial"]
    assert metrics["hyperparameters"] == trials["best_hyperparameters"]
    assert (data / "model_quality.json").exists() and (model / "airsage_model.json").exists()


def test_tuning_hyperparameters_round_trip(credit_uc):
    from airsage.training.train import TrainingJobConfig

    hps = tuning_hyperparameters(credit_uc)
    assert all(isinstance(v, str) for v in hps.values())
    assert TuningConfig.from_hyperparameters(hps) == TuningConfig.from_spec(credit_uc.training.tuning)
    assert TrainingJobConfig.from_hyperparameters(hps).features == credit_uc.schema_.feature_names
