"""Ensemble selection over out-of-fold predictions, and the ensemble AutoClassifier returns."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.ensemble import VotingClassifier

import automl.ensemble
from automl import AutoClassifier
from automl.ensemble import MAX_ROWS, EnsembleSelector, select_ensemble
from automl.evaluation import FULL, Fidelity
from automl.export import read_manifest
from automl.grammar import PipelineSpec, Step
from automl.history import KEEP_MODELS, History, Trial
from automl.metrics import get_metric
from tests.helpers import mixed_frame

LOG_LOSS = get_metric("log_loss", 2)


def _trial(number: int, proba: np.ndarray, y: np.ndarray, classifier: Step | None = None) -> Trial:
    classifier = classifier or Step.of("knn", {"n_neighbors": number})
    pipeline = PipelineSpec(classifier=classifier, scaling=Step("none"))
    score = LOG_LOSS(y, proba)
    return Trial(number, pipeline, "seed", "ok", score=score, oof_proba=proba, models=("fold",))


def _history(trials: list[Trial]) -> History:
    history = History(LOG_LOSS)
    for trial in trials:
        history.add(trial)
    return history


def _noisy_views(n_rows=2000, seed=0):
    """Two models that each see the truth through independent noise, and a weak one."""
    rng = np.random.default_rng(seed)
    truth = rng.normal(size=n_rows)
    y = (truth > 0).astype(int)
    views = [truth + rng.normal(0, 1.0, n_rows), truth + rng.normal(0, 1.1, n_rows),
             truth + rng.normal(0, 3.0, n_rows)]  # fmt: skip
    probas = [np.column_stack([1 - p, p]) for p in (1 / (1 + np.exp(-1.5 * v)) for v in views)]
    trials = sorted((_trial(i, p, y) for i, p in enumerate(probas)), key=lambda t: t.score)
    return trials, y


def test_two_complementary_models_share_the_weight_and_beat_either_alone():
    trials, y = _noisy_views()
    members = select_ensemble(trials, y, LOG_LOSS, size=20)
    assert members[0][0] is trials[0]  # the best single pipeline always takes part
    weights = {t.number: w for t, w in members}
    assert sum(weights.values()) == pytest.approx(1.0)
    assert weights[0] > 0.25 and weights[1] > 0.25
    blend = sum(w * t.oof_proba for t, w in members)
    assert LOG_LOSS(y, blend) < trials[0].score - 0.01


def test_the_selector_chooses_among_the_best_trials_and_again_only_when_they_change():
    trials, y = _noisy_views()
    calls = []
    counted = dataclasses.replace(
        LOG_LOSS, batch=lambda y, p: calls.append(1) or LOG_LOSS.many(y, p)
    )
    selector = EnsembleSelector(y, counted, size=20)
    history = _history(trials)
    chosen = selector(history)
    assert chosen == select_ensemble(trials, y, LOG_LOSS, size=20) and len(chosen) >= 2
    picks = len(calls)
    assert selector(history) == chosen and len(calls) == picks  # same candidates
    worse = [_trial(100 + i, trials[-1].oof_proba, y) for i in range(KEEP_MODELS)]
    for trial in worse[: KEEP_MODELS - len(trials)]:
        history.add(trial)
    assert selector(history) == chosen and len(calls) > picks  # new candidates, same choice
    picks = len(calls)
    for trial in worse[KEEP_MODELS - len(trials) :]:
        history.add(trial)
    assert selector(history) == chosen and len(calls) == picks  # only beyond the top


def test_no_ensemble_when_the_best_was_seen_on_a_share_of_the_rows_only():
    trials, y = _noisy_views()
    first_look = dataclasses.replace(trials[0], number=9, oof_proba=None,
                                     fidelity=Fidelity(rows=1 / 3))  # fmt: skip
    assert EnsembleSelector(y, LOG_LOSS, size=20)(_history([first_look, *trials[1:]])) == []
    assert len(EnsembleSelector(y, LOG_LOSS, size=20)(_history(trials))) >= 2


def test_a_pipeline_of_another_classifier_joins_the_ensemble_from_beyond_the_ten_best():
    trials, y = _noisy_views()
    best = trials[0]
    copies = [_trial(10 + i, best.oof_proba, y) for i in range(KEEP_MODELS)]
    other = _trial(1, trials[1].oof_proba, y, classifier=Step("gaussian_nb"))
    chosen = EnsembleSelector(y, LOG_LOSS, size=20)(_history([best, *copies, other]))
    assert other in [t for t, _ in chosen]  # 12th, behind ten copies of the best
    blend = sum(w * t.oof_proba for t, w in chosen)
    assert LOG_LOSS(y, blend) < best.score - 0.01


def test_scoring_candidates_in_blocks_at_once_picks_as_one_at_a_time(monkeypatch):
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, 300)
    metric = get_metric("log_loss", 3)
    trials = sorted(
        (_trial(i, rng.dirichlet(np.ones(3), 300), y) for i in range(12)),
        key=lambda t: metric(y, t.oof_proba),
    )
    monkeypatch.setattr(automl.ensemble, "BLOCK_CELLS", 2000)  # a block of two tables
    at_once = select_ensemble(trials, y, metric, size=15)
    one_at_a_time = select_ensemble(trials, y, dataclasses.replace(metric, batch=None), size=15)
    assert at_once == one_at_a_time and len(at_once) > 2


def test_one_pick_is_the_best_pipeline_alone():
    trials, y = _noisy_views()
    assert select_ensemble(trials, y, LOG_LOSS, size=1) == [(trials[0], 1.0)]


def test_only_rows_every_candidate_validated_count_and_trials_without_predictions_are_skipped():
    trials, y = _noisy_views(n_rows=MAX_ROWS + 5000)
    holdout = np.zeros(len(y), dtype=bool)
    holdout[::4] = True  # as after a holdout split: the other rows were never validated
    for trial in trials:
        trial.oof_proba[~holdout] = np.nan
    best_without_predictions = dataclasses.replace(trials[0], number=9, oof_proba=None, score=0.0)
    members = select_ensemble([best_without_predictions, *trials], y, LOG_LOSS, size=10)
    assert members and all(t.oof_proba is not None for t, _ in members)
    assert np.isfinite(sum(w * t.oof_proba[holdout] for t, w in members)).all()


@pytest.fixture(scope="module")
def fitted():
    X, y = mixed_frame(300)
    model = AutoClassifier(
        time_budget=None, max_evals=10, random_state=0, search="random", metric="log_loss"
    )
    return model.fit(X, y), X


def test_the_model_bags_the_fold_models_of_its_members_by_weight(fitted):
    model, X = fitted
    best = model.history_.best()
    assert isinstance(model.model_, VotingClassifier) and len(best.fold_scores) == 15  # 3 x 5
    # The first repeat's folds were fitted in the first look, which the full evaluation reuses.
    assert len(best.models) == 10
    # A member evaluated in its first look only (one repeat) bags that look's 5 fold models.
    candidates = {t.pipeline.key: t for t in model.history_.ensemble_candidates()}
    members = [(candidates[pipeline.key], w) for pipeline, w in model.ensemble_]
    assert {len(t.models) for t, _ in members} <= {5, 10}
    expected = np.concatenate([np.full(len(t.models), w / len(t.models)) for t, w in members])
    np.testing.assert_allclose(model.model_.weights, expected)
    assert sum(w for _, w in model.ensemble_) == pytest.approx(1.0)
    folds = [frozen.estimator for frozen in model.model_.estimators_]
    bagged = sum(w * m.predict_proba(X) for w, m in zip(expected, folds, strict=True))
    np.testing.assert_allclose(model.predict_proba(X), bagged)
    # Averaged fold models are not the single pipeline refitted on all rows.
    assert not np.allclose(model.predict_proba(X), model.best_pipeline_.predict_proba(X))
    board = model.leaderboard()
    assert board["weight"].sum() == pytest.approx(1.0)
    assert board.loc[board["rank"] == 1, "weight"].item() > 0


def test_first_looks_that_validated_every_row_are_candidates_behind_the_full_evaluations(fitted):
    model, _ = fitted
    candidates = model.history_.ensemble_candidates()
    full = [t.fidelity == FULL for t in candidates]
    assert full[0] and not all(full) and full == sorted(full, reverse=True)
    evaluated_in_full = {t.pipeline.key for t in candidates if t.fidelity == FULL}
    for look in (t for t in candidates if t.fidelity != FULL):  # one repeat of 5-fold CV
        assert len(look.models) == 5 and not np.isnan(look.oof_proba).any()
        assert look.pipeline.key not in evaluated_in_full


def test_the_ensemble_pickle_predicts_without_automl_and_the_single_one_on_request(
    fitted, tmp_path
):
    model, X = fitted
    model.export(tmp_path / "ensemble.pkl")
    model.export(tmp_path / "single.pkl", ensemble=False)
    assert len(read_manifest(tmp_path / "ensemble.pkl")["ensemble"]) == len(model.ensemble_)
    assert len(read_manifest(tmp_path / "single.pkl")["ensemble"]) == 1
    X.to_pickle(tmp_path / "X.pkl")
    script = textwrap.dedent(
        """
        import pickle, sys
        import pandas as pd
        sys.modules["automl"] = None  # any import of automl now fails
        X = pd.read_pickle("X.pkl")
        for name in ("ensemble.pkl", "single.pkl"):
            with open(name, "rb") as file:
                model = pickle.load(file)
            print(type(model).__name__, model.predict_proba(X)[:, 1].tolist())
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, check=True
    )
    ensemble, single = result.stdout.strip().splitlines()
    assert ensemble.startswith("VotingClassifier") and single.startswith("Pipeline")
    np.testing.assert_allclose(eval(ensemble.split(" ", 1)[1]), model.predict_proba(X)[:, 1])
    np.testing.assert_allclose(
        eval(single.split(" ", 1)[1]), model.best_pipeline_.predict_proba(X)[:, 1]
    )


def test_a_search_too_short_for_full_evaluations_on_medium_data_ensembles_its_first_looks():
    X, y = make_classification(1500, 12, n_informative=6, n_classes=3, random_state=0)
    model = AutoClassifier(time_budget=None, max_evals=3, warm_start=False, random_state=0,
                           metric="log_loss").fit(X, y)  # fmt: skip
    one_fold = Fidelity(folds=0.2)  # 5-fold CV: a first look fits and validates one fold
    assert {t.fidelity for t in model.history_.trials} == {one_fold}
    members = [(t, w) for t in model.history_.ensemble_candidates()
               for pipeline, w in model.ensemble_ if pipeline.key == t.pipeline.key]  # fmt: skip
    assert len(members) == len(model.ensemble_) > 1
    assert all(len(t.models) == 1 for t, _ in members)
    vote = sum(w * t.models[0].predict_proba(X) for t, w in members)
    np.testing.assert_allclose(model.predict_proba(X), vote)
    assert model.score(X, y) > 0.8
