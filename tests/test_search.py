"""The random searcher and the budgeted search loop that runs any searcher."""

from __future__ import annotations

import dataclasses
import os
import signal
import time

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

import automl.history
from automl.budget import Budget
from automl.build_knowledge import _Listed
from automl.components import COMPONENTS, default_grammar
from automl.data import check_training_data
from automl.ensemble import voting_ensemble
from automl.evaluation import FULL, Dataset, Fidelity, Folds, make_folds
from automl.grammar import Component, Grammar, PipelineSpec, Step
from automl.history import History, Proposal, Trial
from automl.metrics import get_metric
from automl.refit import _all_failed_message, refit_best, refit_ensemble
from automl.runner import EvaluationRunner
from automl.search.loop import (
    ENSEMBLE_MAX_SHARE,
    OVERHEAD_SECONDS,
    REFIT_MAX_SHARE,
    _search_end,
    refit_estimate,
    run_search,
)
from automl.search.random import RandomSearch
from automl.workers import WorkerPool
from tests.helpers import mixed_frame


class SleepyClassifier(ClassifierMixin, BaseEstimator):
    """A deliberately slow component: its fit never ends on its own."""

    def fit(self, X, y):
        time.sleep(600)
        return self


class HungryClassifier(ClassifierMixin, BaseEstimator):
    def fit(self, X, y):
        self.memory_ = np.ones(2**31 // 8)  # 2 GB: far past the limit of the tests
        return self


class SegfaultingClassifier(ClassifierMixin, BaseEstimator):
    def fit(self, X, y):
        os.kill(os.getpid(), signal.SIGSEGV)


class BrokenClassifier(ClassifierMixin, BaseEstimator):
    def fit(self, X, y):
        raise ValueError("broken on purpose")


def _sleepy(params, profile):
    return SleepyClassifier()


def _broken(params, profile):
    return BrokenClassifier()


def _grammar_with(*extra: Component, only_extra: bool = False) -> tuple[Grammar, Dataset]:
    data = check_training_data(*mixed_frame(120))
    components = [c for c in COMPONENTS if not (only_extra and c.slot == "classifier")]
    grammar = Grammar([*extra, *components], data.profile)
    repeated = make_folds(data.y_codes, cv=3, random_state=0)
    folds = Folds(repeated.train[:3], repeated.valid[:3], "3-fold")  # one repeat: quicker tests
    return grammar, Dataset(data.X, data.y, data.y_codes, folds, data.profile.n_classes)


def _search(grammar, dataset, seeds, *, max_evals, eval_time_limit=30.0, n_jobs=1, memory=None):
    metric = get_metric("roc_auc", 2)
    history = History(metric)
    start = time.monotonic()
    budget = Budget(start, time_budget=120, max_evals=max_evals, eval_time_limit=eval_time_limit)
    searcher = RandomSearch(grammar, metric, seeds=seeds, random_state=0)
    with WorkerPool() as pool:
        runner = EvaluationRunner(
            pool, dataset, grammar, metric, random_state=0, clock=time.monotonic, start=start,
            memory_limit=memory,
        )  # fmt: skip
        run_search(searcher, runner, history, budget=budget, n_jobs=n_jobs, clock=time.monotonic)
        try:
            best, model = refit_best(runner, history, lambda: budget.time_left(time.monotonic()))
        except RuntimeError as error:
            return history, error
    return history, (best, model)


def test_random_search_proposes_the_seeds_first_then_distinct_pipelines():
    grammar, _ = _grammar_with()
    seeds = grammar.default_pipelines()[:3]
    metric = get_metric("roc_auc", 2)
    searcher = RandomSearch(grammar, metric, seeds=seeds + seeds[:1], random_state=4)
    proposals = [searcher.ask() for _ in range(40)]
    assert [p.pipeline for p in proposals[:3]] == seeds
    assert [p.origin for p in proposals[:4]] == ["seed"] * 3 + ["random"]
    assert len({p.pipeline.key for p in proposals}) == 40
    again = RandomSearch(grammar, metric, seeds=seeds, random_state=4)
    assert [again.ask().pipeline for _ in range(40)] == [p.pipeline for p in proposals]


def test_the_searcher_hears_of_trials_without_their_fold_models_and_predictions(monkeypatch):
    # A searcher keeps what it is told for the whole search: only the history may keep
    # fold models and predictions, and it keeps those of the ensemble's candidates only.
    told, tell = [], RandomSearch.tell
    monkeypatch.setattr(RandomSearch, "tell", lambda self, t: told.append(t) or tell(self, t))
    grammar, dataset = _grammar_with()
    history, _ = _search(grammar, dataset, grammar.default_pipelines()[:4], max_evals=4)
    assert len(told) == 4 and not any(t.models or t.oof_proba is not None for t in told)
    assert all(t.models and t.oof_proba is not None for t in history.trials)


def test_a_runaway_pipeline_is_stopped_and_the_search_goes_on():
    sleepy = Component("sleepy", "classifier", _sleepy)
    grammar, dataset = _grammar_with(sleepy)
    # Only quick pipelines besides the sleepy one: a random one might overrun 1.5 s too.
    names = ["logistic_regression", "sleepy", "gaussian_nb", "decision_tree"]
    seeds = [grammar.default_pipeline(name) for name in names]
    start = time.monotonic()
    history, (best, model) = _search(grammar, dataset, seeds, max_evals=4, eval_time_limit=1.5)
    assert time.monotonic() - start < 60
    assert len(history) == 4
    for trial in history.trials:
        expected = "timeout" if trial.pipeline.classifier.name == "sleepy" else "ok"
        assert trial.status == expected, trial.error
    assert best.ok and model.predict(dataset.X).shape == (120,)


def test_a_proposal_expected_to_outlast_the_time_left_is_passed_over():
    sleepy = Component("sleepy", "classifier", _sleepy)
    grammar, dataset = _grammar_with(sleepy)
    metric = get_metric("roc_auc", 2)
    doomed = Proposal(grammar.default_pipeline("sleepy"), "promoted", expected_seconds=60.0)
    quick = [Proposal(grammar.default_pipeline(name), "seed", expected_seconds=0.5)
             for name in ("logistic_regression", "gaussian_nb")]  # fmt: skip
    history = History(metric)
    start = time.monotonic()
    budget = Budget(start, time_budget=120, max_evals=2, eval_time_limit=10.0)
    with WorkerPool() as pool:
        runner = EvaluationRunner(pool, dataset, grammar, metric, random_state=0,
                                  clock=time.monotonic, start=start)  # fmt: skip
        run_search(_Listed([doomed, *quick]), runner, history, budget=budget, n_jobs=1,
                   clock=time.monotonic)  # fmt: skip
    assert [t.pipeline for t in history.trials] == [p.pipeline for p in quick]
    assert all(t.ok for t in history.trials)


def test_a_pipeline_that_crashes_or_runs_out_of_memory_is_recorded_and_the_search_goes_on():
    hungry = Component("hungry", "classifier", lambda params, profile: HungryClassifier())
    crashing = Component("crashing", "classifier", lambda params, profile: SegfaultingClassifier())
    grammar, dataset = _grammar_with(hungry, crashing)
    names = ["hungry", "logistic_regression", "crashing", "gaussian_nb"]
    seeds = [grammar.default_pipeline(name) for name in names]
    history, (best, model) = _search(grammar, dataset, seeds, max_evals=4, memory=2**30)
    status = {t.pipeline.classifier.name: t.status for t in history.trials}
    assert status == {"hungry": "memout", "crashing": "crashed", "logistic_regression": "ok",
                      "gaussian_nb": "ok"}  # fmt: skip
    assert "SIGSEGV" in next(t.error for t in history.trials if t.status == "crashed")
    assert best.ok and model.predict(dataset.X).shape == (120,)
    assert history.failures() and all(
        reason.startswith(("memout", "crashed")) for reason in history.failures()
    )


def test_two_workers_evaluate_the_same_trials_as_one():
    grammar, dataset = _grammar_with()
    seeds = grammar.default_pipelines()[:2]
    one, _ = _search(grammar, dataset, seeds, max_evals=6, n_jobs=1)
    two, _ = _search(grammar, dataset, seeds, max_evals=6, n_jobs=2)
    scores = lambda history: {t.pipeline.key: t.score for t in history.trials}  # noqa: E731
    assert scores(one) == pytest.approx(scores(two))


def test_when_every_evaluation_fails_the_error_groups_the_reasons():
    broken = Component("broken", "classifier", _broken)
    grammar, dataset = _grammar_with(broken, only_extra=True)
    _, error = _search(grammar, dataset, grammar.default_pipelines(), max_evals=3)
    assert isinstance(error, RuntimeError)
    assert "All 3 evaluated pipelines failed" in str(error)
    assert "3 x failed: ValueError: broken on purpose" in str(error)


def test_the_history_ranks_by_the_metric_direction():
    grammar, _ = _grammar_with()
    specs = grammar.default_pipelines()[:3]
    history = History(get_metric("log_loss", 3))
    for number, (spec, score) in enumerate(zip(specs, [0.5, 0.2, 0.9], strict=True)):
        history.add(Trial(number, spec, "test", "ok", score=score, fit_time=1.0))
    history.add(Trial(9, grammar.sample(np.random.default_rng(0)), "test", "failed", error="boom"))
    assert [t.score for t in history.ranked()] == [0.2, 0.5, 0.9]
    board = history.leaderboard()
    assert list(board["log_loss"].iloc[:3]) == [0.2, 0.5, 0.9]
    assert board["status"].iloc[-1] == "failed" and board["error"].iloc[-1] == "boom"


ONE_REPEAT = Fidelity(folds=1 / 3)  # a first look on small data: every row validated once


def _spec(classifier: str) -> PipelineSpec:
    return PipelineSpec(classifier=Step(classifier), scaling=Step("none"))


def test_the_history_keeps_predictions_of_the_best_trials_and_the_ensembles_candidates(
    monkeypatch,
):
    monkeypatch.setattr(automl.history, "KEEP_PREDICTIONS", 2)
    monkeypatch.setattr(automl.history, "KEEP_MODELS", 4)
    history = History(get_metric("roc_auc", 2))
    scores = [("knn", 0.9), ("knn", 0.85), ("knn", 0.8), ("knn", 0.75), ("gaussian_nb", 0.6)]
    for number, (classifier, score) in enumerate(scores):
        trial = Trial(number, _spec(classifier), "test", "ok", score=score,
                      oof_proba=np.zeros((3, 2)), models=("fold",))  # fmt: skip
        history.add(trial)
    kept = sorted(t.score for t in history.trials if t.oof_proba is not None)
    assert kept == [0.6, 0.8, 0.85, 0.9]  # the two best, and the candidates: 3 knn, 1 nb


def test_fold_models_are_kept_for_three_per_classifier_then_for_the_next_best():
    history = History(get_metric("roc_auc", 2))
    scores = {"knn": [0.99, 0.98, 0.97, 0.96, 0.95, 0.94, 0.93], "gaussian_nb": [0.8, 0.79],
              "logistic_regression": [0.7, 0.69, 0.68, 0.67]}  # fmt: skip
    for classifier, values in scores.items():
        for score in values:
            trial = Trial(len(history), _spec(classifier), "test", "ok", score=score,
                          oof_proba=np.zeros((3, 2)), models=("fold",))  # fmt: skip
            history.add(trial)
    kept = sorted((t.score for t in history.trials if t.models), reverse=True)
    assert kept == [0.99, 0.98, 0.97, 0.96, 0.95, 0.8, 0.79, 0.7, 0.69, 0.68]
    assert [t.score for t in history.ensemble_candidates()] == kept


def test_first_looks_take_no_ensemble_place_but_the_best_keeps_its_fold_model():
    history = History(get_metric("roc_auc", 2))
    third = Fidelity(rows=1 / 3)
    for number in range(14):  # ten full evaluations, then four better first looks
        look = number >= 10
        pipeline = PipelineSpec(classifier=Step.of("knn", {"n_neighbors": number + 1}),
                                scaling=Step("none"))  # fmt: skip
        history.add(Trial(number, pipeline, "test", "ok", score=0.7 + number / 100,
                          fidelity=third if look else FULL, models=("fold",),
                          oof_proba=None if look else np.zeros((3, 2))))  # fmt: skip
    candidates = history.ensemble_candidates()
    assert [t.number for t in candidates] == list(range(9, -1, -1))
    assert [t.number for t in history.trials if t.models] == [*range(10), 13]


def test_a_first_look_keeps_its_fold_models_only_if_it_beats_the_worst_candidate(monkeypatch):
    monkeypatch.setattr(automl.history, "KEEP_MODELS", 3)
    history = History(get_metric("log_loss", 2))
    bars = []
    for number, score in enumerate([0.5, 0.3, 0.4, 0.2]):
        bars.append(history.models_bar())
        spec = PipelineSpec(classifier=Step.of("knn", {"n_neighbors": number + 1}),
                            scaling=Step("none"))  # fmt: skip
        history.add(Trial(number, spec, "test", "ok", score=score, fidelity=ONE_REPEAT,
                          oof_proba=np.zeros((3, 2)), models=("fold",)))  # fmt: skip
    assert bars == [None, None, None, -0.5]  # none until three candidates, then the worst
    assert history.models_bar() == -0.4  # (as the objective: larger is better)
    for number in range(4, 7):  # three full evaluations take every place
        history.add(Trial(number, _spec(f"knn{number}"), "test", "ok", score=0.9,
                          oof_proba=np.zeros((3, 2)), models=("fold",)))  # fmt: skip
    assert history.models_bar() == np.inf


def test_an_ensemble_candidate_always_has_its_fold_models_and_predictions(monkeypatch):
    # A trial left out of the candidates loses its models for good: it must never
    # be a candidate again, however the later trials rank and whatever they are.
    # First looks come and go: a promotion to the full evaluation supersedes one.
    monkeypatch.setattr(automl.history, "KEEP_PREDICTIONS", 12)
    history = History(get_metric("roc_auc", 2))
    rng = np.random.default_rng(0)
    classifiers = ["knn"] * 6 + ["gaussian_nb", "logistic_regression", "random_forest"]
    looked = []
    for number in range(300):
        if looked and rng.random() < 0.3:
            spec, fidelity = looked.pop(rng.integers(len(looked))), FULL
        else:
            classifier = Step.of(classifiers[rng.integers(len(classifiers))], {"seed": number})
            spec, fidelity = PipelineSpec(classifier=classifier, scaling=Step("none")), ONE_REPEAT
            looked.append(spec)
        history.add(Trial(number, spec, "test", "ok", score=rng.random(), fidelity=fidelity,
                          oof_proba=np.zeros((3, 2)), models=("fold",)))  # fmt: skip
        candidates = history.ensemble_candidates()
        assert all(t.models and t.oof_proba is not None for t in candidates)
        n_pipelines = len({t.pipeline.key for t in history.trials})
        assert len(candidates) == min(n_pipelines, automl.history.KEEP_MODELS)


def test_first_looks_on_every_row_are_candidates_after_the_full_evaluations_until_promoted():
    history = History(get_metric("roc_auc", 2))
    knn = [PipelineSpec(classifier=Step.of("knn", {"n_neighbors": k}), scaling=Step("none"))
           for k in range(1, 5)]  # fmt: skip
    look = ONE_REPEAT
    evaluations = [(knn[0], look, 0.80), (knn[1], look, 0.95), (knn[2], look, 0.9),
                   (knn[3], look, 0.7), (knn[1], FULL, 0.85), (knn[0], FULL, 0.82)]  # fmt: skip
    for number, (spec, fidelity, score) in enumerate(evaluations):
        history.add(Trial(number, spec, "test", "ok", score=score, fidelity=fidelity,
                          oof_proba=np.zeros((3, 2)), models=("fold",)))  # fmt: skip
    candidates = [(t.number, t.score) for t in history.ensemble_candidates()]
    assert candidates == [(4, 0.85), (5, 0.82), (2, 0.9), (3, 0.7)]  # the full ones first
    assert [t.number for t in history.trials if t.models] == [2, 3, 4, 5]


def test_on_medium_data_first_looks_are_the_candidates_until_two_pipelines_are_in_full():
    # A first look validates the first fold; its promotion fits the other folds only.
    fold = np.arange(10) < 2
    history = History(get_metric("roc_auc", 2))
    knn = [PipelineSpec(classifier=Step.of("knn", {"n_neighbors": k}), scaling=Step("none"))
           for k in range(1, 5)]  # fmt: skip
    evaluations = [(knn[0], 0.80), (knn[1], 0.95), (knn[2], 0.9), (knn[3], 0.7)]
    look = dict(fidelity=Fidelity(folds=0.2), oof_proba=np.where(fold[:, None], 0.5, np.nan))
    for number, (spec, score) in enumerate(evaluations):
        history.add(Trial(number, spec, "test", "ok", score=score, models=("fold",), **look))
    promoted = dict(fidelity=FULL, oof_proba=np.where(fold[:, None], np.nan, 0.5), models=("fold",))
    history.add(Trial(4, knn[1], "test", "ok", score=0.85, **promoted))
    assert history.best().number == 4  # validated on the most folds
    assert [t.number for t in history.ensemble_candidates()] == [1, 2, 0, 3]  # on their fold
    assert history.models_bar() is None
    history.add(Trial(5, knn[0], "test", "ok", score=0.82, **promoted))
    assert [t.number for t in history.ensemble_candidates()] == [4, 5]
    assert [t.number for t in history.trials if t.models] == [4, 5]
    assert history.models_bar() == np.inf  # a look would validate other rows than theirs


def _large_data():
    """``X, labels, profile, dataset``: 12,000 rows, binary labels, one holdout split
    (whose fold model saw most rows)."""
    X, y = make_classification(12_000, 8, n_informative=5, random_state=0)
    labels = np.where(y == 1, "yes", "no")
    data = check_training_data(X, labels)
    folds = make_folds(data.y_codes, random_state=0)
    assert len(folds) == 1
    dataset = Dataset(data.X, data.y, data.y_codes, folds, data.profile.n_classes)
    return X, labels, data.profile, dataset


def _refit_with_fold_model(grammar, dataset, history, X, labels, time_left, warning: str):
    """``refit_best`` whose fold model stands in as a vote over it, warning ``warning``."""
    with WorkerPool() as pool:
        runner = EvaluationRunner(pool, dataset, grammar, get_metric("roc_auc", 2),
                                  random_state=0, clock=time.monotonic, start=0.0)  # fmt: skip
        with pytest.warns(UserWarning, match=warning):
            return refit_best(
                runner, history, time_left,
                stand_in=lambda fold_model: voting_ensemble([(fold_model, 1.0)], X, labels),
            )  # fmt: skip


def test_on_large_data_the_fold_model_stands_in_when_a_refit_would_not_fit():
    X, labels, profile, dataset = _large_data()
    grammar = default_grammar(profile)
    seeds = [grammar.default_pipeline(name) for name in ("logistic_regression", "gaussian_nb")]
    history, _ = _search(grammar, dataset, seeds, max_evals=2)
    assert all(len(t.models) == 1 for t in history.trials)
    best, model = _refit_with_fold_model(
        grammar, dataset, history, X, labels, lambda: 0.0, "is used instead"
    )
    assert best is history.best()
    assert set(model.predict(X[:50])) <= {"yes", "no"}
    assert (model.predict(X) == labels).mean() > 0.8


def _dear_and_cheap_on_large_data():
    """``X, labels, dataset, grammar, history, dear, cheap``: a random forest that
    outscores naive Bayes and costs far more to refit, each with its fold model."""
    X, labels, profile, dataset = _large_data()
    grammar = default_grammar(profile)
    seeds = [grammar.default_pipeline(name) for name in ("random_forest", "gaussian_nb")]
    history, _ = _search(grammar, dataset, seeds, max_evals=2)
    dear, cheap = history.ranked()
    assert dear.pipeline.classifier.name == "random_forest" and dear.models
    assert refit_estimate(dear, dataset.folds) > 10 * refit_estimate(cheap, dataset.folds)
    return X, labels, dataset, grammar, history, dear, cheap


def _between(dear, cheap, folds) -> float:
    """Seconds enough to refit ``cheap``, not ``dear``."""
    return (refit_estimate(dear, folds) * refit_estimate(cheap, folds)) ** 0.5


def test_on_large_data_the_best_fold_model_stands_in_before_a_worse_pipeline_is_refitted():
    X, labels, dataset, grammar, history, dear, cheap = _dear_and_cheap_on_large_data()
    seconds = _between(dear, cheap, dataset.folds)
    best, model = _refit_with_fold_model(
        grammar, dataset, history, X, labels, lambda: seconds, "would not fit"
    )
    assert best is dear
    assert (model.predict(X) == labels).mean() > 0.8


def test_ensemble_members_too_dear_to_refit_vote_with_their_fold_models():
    X, labels, dataset, grammar, _history, dear, cheap = _dear_and_cheap_on_large_data()
    seconds = _between(dear, cheap, dataset.folds)
    metric = get_metric("roc_auc", 2)
    with WorkerPool() as pool:
        runner = EvaluationRunner(pool, dataset, grammar, metric, random_state=0,
                                  clock=time.monotonic, start=0.0)  # fmt: skip
        with pytest.warns(UserWarning, match="1 vote with the model fitted during the search"):
            members = refit_ensemble(
                runner, [(cheap, 0.25), (dear, 0.75)], lambda: seconds, n_jobs=1,
                stand_in=lambda fold_model: voting_ensemble([(fold_model, 1.0)], X, labels),
            )  # fmt: skip
    assert [(m.trial, m.weight, m.refitted) for m in members] == [
        (dear, 0.75, False), (cheap, 0.25, True)
    ]  # fmt: skip
    stood_in, refitted = (member.model for member in members)
    assert stood_in.estimators[0][1].estimator is dear.models[0]  # the fold model, frozen
    assert set(refitted.classes_) == {"yes", "no"}  # fitted on all rows, with the labels
    vote = voting_ensemble([(member.model, member.weight) for member in members], X, labels)
    assert (vote.predict(X) == labels).mean() > 0.8


class NoRefitClassifier(ClassifierMixin, BaseEstimator):
    """A logistic regression on a holdout fold's rows; fails on all 12,000 of them."""

    def fit(self, X, y):
        if len(X) > 11_000:
            raise ValueError("fails on all rows on purpose")
        self.model_ = LogisticRegression().fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X)


def test_on_large_data_the_fold_model_stands_in_when_every_refit_fails():
    X, labels, profile, dataset = _large_data()
    norefit = Component("norefit", "classifier", lambda params, profile: NoRefitClassifier())
    grammar = Grammar([norefit, *COMPONENTS], profile)
    history, _ = _search(grammar, dataset, [grammar.default_pipeline("norefit")], max_evals=1)
    best, model = _refit_with_fold_model(
        grammar, dataset, history, X, labels, lambda: 100.0, "failed .*is used instead"
    )
    assert best is history.best()
    assert (model.predict(X) == labels).mean() > 0.8


def test_the_search_keeps_time_to_refit_the_ensembles_other_members_and_no_more():
    grammar, _ = _grammar_with()
    folds = make_folds(np.arange(12_000) % 2, random_state=0)  # a holdout split
    history = History(get_metric("roc_auc", 2))
    specs = grammar.default_pipelines()[:2]
    best, other = (Trial(n, specs[n], "test", "ok", score=s, fit_time=t)
                   for n, s, t in ((0, 0.9, 2.0), (1, 0.8, 4.0)))  # fmt: skip
    history.add(best)
    history.add(other)
    budget = Budget(0.0, time_budget=100.0)
    alone = _search_end(history, folds, budget, [best], n_jobs=1, now=0.0)
    assert alone == pytest.approx(100.0 - OVERHEAD_SECONDS - refit_estimate(best, folds))
    for n_jobs in (1, 2):
        both = _search_end(history, folds, budget, [best, other], n_jobs=n_jobs, now=0.0)
        assert alone - both == pytest.approx(refit_estimate(other, folds) / n_jobs)
    short = Budget(0.0, time_budget=30.0)
    assert refit_estimate(other, folds) > ENSEMBLE_MAX_SHARE * 30.0
    kept = _search_end(history, folds, short, [best], 1, 0.0) - _search_end(
        history, folds, short, [best, other], 1, 0.0
    )
    assert kept == pytest.approx(ENSEMBLE_MAX_SHARE * 30.0)
    # A refit of the best too dear for the budget: its fold model stands in, and the
    # others' refits would come after it, so the search keeps no time for any.
    dear = dataclasses.replace(best, fit_time=30.0, models=("fold model",))
    history.trials[0] = dear
    end = _search_end(history, folds, budget, [dear, other], n_jobs=1, now=0.0)
    assert end == pytest.approx(100.0 - OVERHEAD_SECONDS)
    # Seen on a third of the rows, its fold model would stand in poorly: time is kept.
    look = dataclasses.replace(dear, fit_time=10.0, fidelity=Fidelity(rows=1 / 3))
    history.trials[0] = look
    assert refit_estimate(look, folds) > REFIT_MAX_SHARE * 100.0
    end = _search_end(history, folds, budget, [look], n_jobs=1, now=0.0)
    assert end == pytest.approx(100.0 - OVERHEAD_SECONDS - refit_estimate(look, folds))
    # Late, its refit still fits with the grace the final step allows: the search stops
    # now; past that, the search goes on and the fold model stands in.
    late = budget.end - refit_estimate(look, folds) + budget.grace / 2
    assert _search_end(history, folds, budget, [look], n_jobs=1, now=late) < late
    too_late = budget.end - refit_estimate(look, folds) + budget.grace * 1.5
    end = _search_end(history, folds, budget, [look], n_jobs=1, now=too_late)
    assert end == pytest.approx(100.0 - OVERHEAD_SECONDS)


def test_a_step_that_does_nothing_gives_the_same_predictions_digest():
    grammar, dataset = _grammar_with()
    lightgbm = grammar.default_pipeline("lightgbm")
    threshold = grammar.default_step("features", "variance_threshold")  # below every variance
    copy = dataclasses.replace(lightgbm, features=(threshold,))
    seeds = [lightgbm, copy, grammar.default_pipeline("logistic_regression")]
    history, _ = _search(grammar, dataset, seeds, max_evals=3)
    digests = [t.predictions_digest for t in history.trials]
    assert all(digests) and digests[0] == digests[1] != digests[2]


def test_a_search_cut_short_before_any_result_says_to_raise_the_budget():
    grammar, _ = _grammar_with()
    history = History(get_metric("roc_auc", 2))
    pipeline = grammar.default_pipeline("lightgbm")
    history.add(Trial(1, pipeline, "seed", "cancelled", error="cancelled"))
    assert "Increase time_budget" in _all_failed_message(history)
    history.add(Trial(2, pipeline, "random", "failed", error="ValueError: bad"))
    assert _all_failed_message(history).startswith("All 2 evaluated pipelines failed")
