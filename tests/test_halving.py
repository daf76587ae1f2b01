"""Successive halving: cheap first looks, and only the best pipelines reach all rows."""

from __future__ import annotations

import contextlib
import dataclasses
import time

import numpy as np
import pytest
from sklearn.datasets import make_classification

from automl import AutoClassifier
from automl.components import default_grammar
from automl.data import check_training_data
from automl.evaluation import FULL, Dataset, Fidelity, make_folds
from automl.history import SKIPPED, History, Proposal, Trial
from automl.metrics import get_metric
from automl.runner import EvaluationRunner
from automl.search.halving import ETA, SuccessiveHalving, _promotion, fidelity_levels
from automl.search.random import RandomSearch
from automl.workers import WorkerPool
from tests.helpers import mixed_frame

GRAMMAR = default_grammar(check_training_data(*mixed_frame(200)).profile)
METRIC = get_metric("roc_auc", 2)


def _levels(n_rows: int) -> tuple[Fidelity, ...]:
    return fidelity_levels(make_folds(np.arange(n_rows) % 2, cv=5))


def test_rungs_depend_on_the_rows():
    assert _levels(800) == (Fidelity(folds=1 / 3), FULL)
    assert _levels(1500) == (Fidelity(folds=1 / 5), FULL)
    assert _levels(8000) == (Fidelity(rows=1 / 3), FULL)
    assert _levels(60_000) == (Fidelity(rows=1 / 9), Fidelity(rows=1 / 3), FULL)


def _tell(scheduler, proposal, number):
    score = (number * 7919 % 97) / 97  # a fixed, scrambled score per proposal
    trial = Trial(number, proposal.pipeline, proposal.origin, "ok", score=score,
                  fidelity=proposal.fidelity, fit_time=1.0)  # fmt: skip
    scheduler.tell(trial)
    return trial


def test_a_pipeline_moves_up_only_from_the_top_third_of_its_rung():
    levels = (Fidelity(rows=1 / 9), Fidelity(rows=1 / 3), FULL)
    scheduler = SuccessiveHalving(RandomSearch(GRAMMAR, METRIC, random_state=0), METRIC, levels)
    trials: list[Trial] = []
    for number in range(60):
        proposal = scheduler.ask()
        if proposal.origin == "promoted":
            lower = levels[levels.index(proposal.fidelity) - 1]
            rung = sorted((t for t in trials if t.fidelity == lower), key=lambda t: -t.score)
            top = {t.pipeline.key for t in rung[: len(rung) // ETA]}
            assert proposal.pipeline.key in top
        else:
            assert proposal.fidelity == levels[0]
        trials.append(_tell(scheduler, proposal, number))
    counts = [sum(t.fidelity == level for t in trials) for level in levels]
    assert counts[0] > counts[1] > counts[2] > 0


def test_a_promotion_is_expected_to_take_its_first_look_times_the_cost_ratio():
    levels = (Fidelity(rows=1 / 9), Fidelity(rows=1 / 3), FULL)
    scheduler = SuccessiveHalving(RandomSearch(GRAMMAR, METRIC, random_state=0), METRIC, levels)
    for number in range(3):
        proposal = scheduler.ask()
        assert proposal.expected_seconds == 0  # a new pipeline: its cost is not known
        scheduler.tell(
            Trial(number, proposal.pipeline, proposal.origin, "ok", score=number / 10,
                  fidelity=proposal.fidelity, fit_time=1.5, duration=2.0)
        )  # fmt: skip
    promoted = scheduler.ask()
    assert (promoted.origin, promoted.fidelity) == ("promoted", levels[1])
    assert promoted.expected_seconds == pytest.approx(6.0)
    assert promoted.reuses is None  # on more rows every fold is fitted again


def test_no_pipeline_moves_up_past_a_better_one_that_could_not_in_time():
    levels = (Fidelity(folds=1 / 5), FULL)
    scheduler = SuccessiveHalving(RandomSearch(GRAMMAR, METRIC, random_state=0), METRIC, levels)
    pipelines = [GRAMMAR.sample(np.random.default_rng(seed)) for seed in range(7)]
    for number, pipeline in enumerate(pipelines[:6]):  # scores 0.9, 0.8, ...: two move up
        scheduler.tell(Trial(number, pipeline, "random", "ok", score=0.9 - number / 10,
                             fidelity=levels[0], fit_time=1.0))  # fmt: skip
    leader = scheduler.ask()
    assert (leader.origin, leader.pipeline) == ("promoted", pipelines[0])
    scheduler.tell(Trial(0, leader.pipeline, leader.origin, SKIPPED, fidelity=leader.fidelity))
    assert scheduler.ask().origin == "random"  # the second stays where it is
    scheduler.tell(Trial(6, pipelines[6], "random", "ok", score=0.95, fidelity=levels[0],
                         fit_time=1.0))  # fmt: skip
    assert scheduler.ask().pipeline == pipelines[6]  # a better newcomer may still move up


@contextlib.contextmanager
def _logistic_regression_runner(n_rows: int):
    """``(runner, pipeline, folds)``: a runner on generated data (5-fold, repeated below
    1,000 rows, one holdout split above 10,000) and the default logistic regression."""
    X, y = make_classification(n_rows, 8, n_informative=4, random_state=0)
    data = check_training_data(X, y)
    folds = make_folds(data.y_codes, cv=5, random_state=0)
    grammar = default_grammar(data.profile)
    with WorkerPool() as pool:
        dataset = Dataset(X, data.y, data.y_codes, folds, 2)
        runner = EvaluationRunner(
            pool, dataset, grammar, METRIC, random_state=0, clock=time.monotonic, start=0.0
        )
        yield runner, grammar.default_pipeline("logistic_regression"), folds


def test_a_promotion_to_more_folds_fits_only_the_folds_not_evaluated_yet():
    with _logistic_regression_runner(300) as (runner, pipeline, folds):  # repeated 3 times
        lower, upper = fidelity_levels(folds)
        (first_look,) = _evaluate(runner, Proposal(pipeline, "seed", lower))
        promoted = _promotion(first_look, upper)
        assert promoted.reuses is first_look
        assert promoted.expected_seconds == pytest.approx(2 * first_look.duration)
        reusing, direct = _evaluate(runner, promoted, Proposal(pipeline, "seed", upper))
    assert reusing.fold_scores == direct.fold_scores and reusing.score == direct.score
    assert len(direct.models) == len(folds) and len(reusing.models) == len(folds) - 5


def _first_look_on_a_third_of_the_rows(n_rows: int) -> Trial:
    with _logistic_regression_runner(n_rows) as (runner, pipeline, _):
        (trial,) = _evaluate(runner, Proposal(pipeline, "seed", Fidelity(rows=1 / 3)))
    return trial


def test_a_first_look_on_a_share_of_the_rows_keeps_a_fold_model_on_a_holdout_split_only():
    # There it may stand in for a refit that would not fit; it feeds no ensemble, and on
    # k-fold data a bag of its models would stand for a fraction of the rows.
    holdout = _first_look_on_a_third_of_the_rows(12_000)
    assert len(holdout.models) == 1 and holdout.oof_proba is None
    k_fold = _first_look_on_a_third_of_the_rows(1_500)
    assert k_fold.ok and k_fold.models == () and k_fold.oof_proba is None


def _evaluate(runner, *proposals):
    """The proposals' trials, in the order given: one at a time, as trials are numbered
    in the order they finish."""
    trials = []
    for proposal in proposals:
        runner.submit(proposal, time_limit=60.0)
        while runner.n_running:
            trials += runner.wait(timeout=60.0)
    return trials


def test_of_copies_of_a_model_only_the_cheapest_moves_up():
    levels = (Fidelity(folds=1 / 3), FULL)
    scheduler = SuccessiveHalving(RandomSearch(GRAMMAR, METRIC, random_state=0), METRIC, levels)
    best = GRAMMAR.default_pipeline("lightgbm")
    # A step that does nothing makes a copy: the same classifier, the same predictions.
    step = GRAMMAR.default_step("features", "variance_threshold")
    copy = dataclasses.replace(best, features=(step,))
    # The same predictions from another classifier setting (on a subsample) is no copy.
    params = best.classifier.kwargs | {"num_leaves": 7}
    variant = dataclasses.replace(best, classifier=GRAMMAR.complete_step("lightgbm", params))
    others = [
        GRAMMAR.default_pipeline(name) for name in ("logistic_regression", "knn", "sgd", "mlp")
    ]
    entries = [(best, 0.9, "same", 1.0), (copy, 0.9, "same", 0.5), (variant, 0.9, "same", 1.0)]
    entries += [(p, 0.8 - i / 10, f"other{i}", 1.0) for i, p in enumerate(others)]
    for number, (pipeline, score, digest, fit_time) in enumerate(entries):
        scheduler.tell(
            Trial(number, pipeline, "random", "ok", score=score, fidelity=levels[0],
                  fit_time=fit_time, predictions_digest=digest)
        )  # fmt: skip
    # Six distinct models in the rung: the top third is the copy and the variant.
    promoted = [scheduler.ask() for _ in range(3)]
    assert [p.origin for p in promoted] == ["promoted", "promoted", "random"]
    assert {p.pipeline for p in promoted[:2]} == {copy, variant}


def test_trials_on_fewer_rows_compete_each_pipeline_once_but_not_those_on_fewer_folds():
    history = History(METRIC)
    specs = [GRAMMAR.sample(np.random.default_rng(i)) for i in range(4)]
    third, one_fold = Fidelity(rows=1 / 3), Fidelity(folds=1 / 5)
    for number, (spec, score, fidelity) in enumerate([
        (specs[0], 0.99, third),  # validated on every fold: it competes
        (specs[1], 0.70, third),  # promoted below: its result on all rows counts
        (specs[1], 0.80, FULL),
        (specs[2], 0.85, FULL),
        (specs[3], 0.999, one_fold),  # one fold can flatter: it never competes
    ]):  # fmt: skip
        history.add(Trial(number, spec, "t", "ok", score=score, fidelity=fidelity, fit_time=1.0))
    assert [t.score for t in history.ranked()] == [0.99, 0.85, 0.80]
    board = history.leaderboard()
    assert list(board["fidelity"]) == ["0.33 rows", "full", "full", "0.33 rows", "0.2 folds"]
    assert board["rank"].isna().tolist() == [False, False, False, True, True]
    only_a_first_look = History(METRIC)
    only_a_first_look.add(Trial(0, specs[3], "t", "ok", score=0.9, fidelity=one_fold))
    assert only_a_first_look.best().pipeline == specs[3]


def test_on_k_fold_data_a_best_seen_on_a_share_of_the_rows_is_refitted_not_bagged():
    X, y = make_classification(8_000, 8, n_informative=5, random_state=0)
    model = AutoClassifier(time_budget=None, max_evals=2, search="random", random_state=0)
    model.fit(X, y)
    assert model.cv_.startswith("5-fold") and set(model.leaderboard()["fidelity"]) == {"0.33 rows"}
    assert model.model_ is model.best_pipeline_  # refitted on all rows: no bag of fold models
    assert model.ensemble_ == [(model.best_pipeline_spec_, 1.0)]
    assert model.score(X, y) > 0.8


def test_large_data_is_searched_on_subsamples_first():
    X, y = make_classification(16_000, 10, n_informative=5, random_state=0)
    model = AutoClassifier(time_budget=None, max_evals=14, search="random", random_state=0)
    model.fit(X, y)
    board = model.leaderboard()
    assert set(board["fidelity"]) == {"0.33 rows", "full"}
    assert (board["fidelity"] == "0.33 rows").sum() > (board["fidelity"] == "full").sum()
    assert model.best_score_ == board.loc[board["rank"].notna(), "roc_auc"].max()
