"""The rest of the bad-input matrix: awkward data that fit must handle, or refuse clearly.

(Refusals of unusable data are in test_data.py; parameters in test_estimator.py.)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from automl import AutoClassifier
from tests.helpers import mixed_frame


def _fit(X, y, **params):
    settings = {"time_budget": None, "max_evals": 3, "random_state": 0, "search": "random"}
    return AutoClassifier(**settings | params).fit(X, y)


@pytest.mark.parametrize(
    "labels",
    [
        np.array(["no", "yes"]),
        np.array([False, True]),
        np.array([-1, 1]),
        pd.Categorical(["low", "high"], categories=["low", "high"]),
    ],
    ids=["strings", "booleans", "minus-one-one", "pandas-categorical"],
)
def test_labels_of_any_kind_come_back_as_given(labels):
    X, y = mixed_frame(150)
    y = np.asarray(labels)[(y == "churn").astype(int)]
    model = _fit(X, y)
    predicted = model.predict(X)
    assert set(predicted) <= set(np.asarray(labels)) and predicted.dtype == np.asarray(y).dtype
    assert (predicted == y).mean() > 0.7


def test_useless_columns_do_not_break_the_search():
    X, y = mixed_frame(150)
    X["all_missing"] = np.nan
    X["constant"] = 7.0
    X["constant_text"] = "same"
    X["row_id"] = np.arange(150)  # an identifier: unique, meaningless
    X["age_again"] = X["age"]  # a duplicated column under another name
    model = _fit(X, y)
    assert all(t.ok for t in model.history_.trials)
    assert model.predict_proba(X).shape == (150, 2)


def test_duplicate_column_names_are_refused_with_the_fix():
    X, y = mixed_frame(50)
    X.columns = ["age", "visits", "plan", "age", "member"]
    with pytest.raises(ValueError, match="duplicate"):
        _fit(X, y)


def test_a_high_cardinality_text_column_does_not_blow_up():
    rng = np.random.default_rng(0)
    n_rows = 50_000
    X = pd.DataFrame({"code": [f"id{i}" for i in rng.permutation(n_rows)],
                      "signal": rng.normal(size=n_rows)})  # fmt: skip
    y = (X["signal"] + rng.normal(0, 0.5, n_rows) > 0).astype(int)
    model = _fit(X, y, max_evals=2, memory_limit=1500)
    assert all(t.ok for t in model.history_.trials), model.leaderboard()["error"].tolist()
    columns = model.best_pipeline_[:-1].transform(X.iloc[:100]).shape[1]
    assert columns < 100  # one-hot capped, or target/ordinal encoded: no 50,000 columns


def test_data_smaller_than_the_folds_uses_fewer_folds():
    X = pd.DataFrame({"x": [0.1, 0.2, 0.3, 0.9, 1.0, 1.1, 0.15, 0.95]})
    y = np.array(["a", "a", "a", "b", "b", "b", "a", "b"])
    with pytest.warns(UserWarning, match="using 4 folds"):
        model = _fit(X, y)
    assert list(model.predict(X)) == list(y)


def test_predictions_do_not_depend_on_row_order_and_take_nan_and_unseen_categories():
    X, y = mixed_frame(200)
    model = _fit(X, y)
    order = np.random.default_rng(1).permutation(200)
    np.testing.assert_allclose(model.predict_proba(X.iloc[order]), model.predict_proba(X)[order])
    new = X.head(4).copy()
    new["plan"] = [None, "enterprise", np.nan, "pro"]  # missing and never seen in fit
    new["city"] = ["atlantis", None, "c1", "c2"]
    proba = model.predict_proba(new)
    assert proba.shape == (4, 2) and np.isfinite(proba).all()
