"""AutoClassifier end to end: inputs users have, labels restored, budgets kept."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris, make_classification
from sklearn.pipeline import Pipeline

from automl import AutoClassifier
from automl.evaluation import HOLDOUT_ABOVE_ROWS
from tests.helpers import mixed_frame


def _quick(**params) -> AutoClassifier:
    return AutoClassifier(**{"time_budget": None, "max_evals": 4, "random_state": 0, **params})


def test_a_mixed_frame_with_gaps_and_string_labels():
    X, y = mixed_frame(200)
    model = _quick().fit(X, y)
    assert list(model.classes_) == ["churn", "stay"]
    assert isinstance(model.best_pipeline_, Pipeline)
    assert set(model.predict(X)) <= {"churn", "stay"}
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(model.predict(X), model.model_.predict(X))
    # The bagged fold models and the refitted best pipeline mostly agree.
    assert (model.predict(X) == model.best_pipeline_.predict(X)).mean() > 0.9
    assert model.score(X, y) > 0.75
    assert model.metric_ == "roc_auc" and 0.75 < model.best_score_ <= 1.0
    assert list(model.feature_names_in_) == list(X.columns)
    assert model.interrupted_ is False


def test_a_numpy_array_with_integer_labels_uses_log_loss_for_three_classes():
    X, y = load_iris(return_X_y=True)
    model = _quick().fit(X, y + 10)
    assert list(model.classes_) == [10, 11, 12]
    assert model.metric_ == "log_loss" and model.best_score_ < 0.4
    assert model.predict(X[:5]).tolist() == [10] * 5
    assert not hasattr(model, "feature_names_in_")


def test_the_leaderboard_lists_every_evaluation_best_first():
    X, y = mixed_frame(150)
    model = _quick(max_evals=5).fit(X, y)
    board = model.leaderboard()
    assert len(board) == 5 == len(model.history_)
    assert {"pipeline", "roc_auc", "roc_auc_std", "fit_time", "status"} <= set(board.columns)
    ok = board[board["status"] == "ok"]
    assert list(ok["roc_auc"]) == sorted(ok["roc_auc"], reverse=True)
    assert ok["roc_auc"].iloc[0] == pytest.approx(model.best_score_)


def test_a_count_budget_and_a_seed_give_the_same_model_twice():
    X, y = make_classification(300, 8, random_state=1)
    first, second = _quick(max_evals=6).fit(X, y), _quick(max_evals=6).fit(X, y)
    boards = [model.leaderboard()[["key", "roc_auc"]] for model in (first, second)]
    assert boards[0].equals(boards[1])
    np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))


def test_fit_returns_within_the_time_budget():
    X, y = make_classification(3000, 20, n_informative=8, random_state=0)
    budget = 8
    start = time.monotonic()
    model = AutoClassifier(time_budget=budget, random_state=0).fit(X, y)
    elapsed = time.monotonic() - start
    assert elapsed <= budget + min(0.05 * budget + 3, max(5, 0.05 * budget))
    assert len(model.history_) >= 2


def test_two_jobs_run_evaluations_side_by_side():
    X, y = make_classification(400, 10, random_state=2)
    model = _quick(max_evals=6, n_jobs=2).fit(X, y)
    assert len(model.history_) == 6 and model.best_score_ > 0.8


def test_unseen_categories_and_reordered_columns_at_predict_time():
    X, y = mixed_frame(200)
    model = _quick().fit(X, y)
    new = X.iloc[:20].copy()
    new["plan"] = "enterprise"  # never seen in fit
    new["city"] = None
    shuffled = new[list(reversed(new.columns))].assign(comment="ignored")
    np.testing.assert_array_equal(model.predict(shuffled), model.predict(new))
    with pytest.raises(ValueError, match="missing"):
        model.predict(new.drop(columns="age"))


def test_predictions_do_not_depend_on_batching():
    X, y = mixed_frame(200)
    model = _quick().fit(X, y)
    whole = model.predict_proba(X)
    in_pieces = np.vstack([model.predict_proba(X.iloc[i : i + 7]) for i in range(0, 200, 7)])
    np.testing.assert_allclose(whole, in_pieces)
    one_plan = X[X["plan"] == "pro"]
    np.testing.assert_allclose(
        model.predict_proba(one_plan), whole[(X["plan"] == "pro").to_numpy()]
    )


@pytest.mark.parametrize("n_rows", [120, HOLDOUT_ABOVE_ROWS + 10], ids=["k-fold", "holdout"])
def test_a_class_with_one_member_is_kept_with_a_warning(n_rows):
    X, y = make_classification(n_rows, 5, random_state=3)
    labels = np.where(y == 1, "b", "a").astype(object)
    labels[0] = "rare"
    with pytest.warns(UserWarning, match="one member"):
        model = _quick(metric="accuracy").fit(X, labels)
    assert list(model.classes_) == ["a", "b", "rare"]
    assert model.predict_proba(X).shape == (n_rows, 3)


@pytest.mark.parametrize(
    "params,message",
    [
        ({"time_budget": -5}, "time_budget must be a number greater than 0"),
        ({"time_budget": None, "max_evals": None}, "Set time_budget"),
        ({"max_evals": 2.5}, "max_evals must be an integer"),
        ({"metric": "auc_pr"}, "Unknown metric 'auc_pr'"),
        ({"n_jobs": 0}, "n_jobs must be a positive integer or -1"),
        ({"cv": 1}, "cv must be an integer of at least 2"),
        ({"search": "genetic"}, "Unknown search 'genetic'"),
        ({"memory_limit": 0}, "memory_limit must be a number greater than 0"),
        ({"memory_limit": "lots"}, "memory_limit must be a number greater than 0"),
        ({"ensemble_size": 0}, "ensemble_size must be an integer greater than 0"),
    ],
)
def test_wrong_parameters_are_reported_by_fit(params, message):
    model = AutoClassifier(**params)  # __init__ only stores them
    with pytest.raises(ValueError, match=message):
        model.fit(np.zeros((10, 2)), [0, 1] * 5)


def test_a_pandas_target_series_keeps_its_labels():
    X, y = mixed_frame(150)
    target = pd.Series(y, dtype="category")
    model = _quick().fit(X, target)
    assert list(model.classes_) == ["churn", "stay"]


def test_an_array_after_a_frame_predicts_by_position_with_scikit_learns_warning():
    X, y = make_classification(200, 4, random_state=5)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    model = _quick().fit(frame, y)
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        proba = model.predict_proba(X)
    np.testing.assert_allclose(proba, model.predict_proba(frame))
