"""Cross-validation: stratified folds, no leakage, out-of-fold predictions."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from automl.evaluation import (
    HOLDOUT_ABOVE_ROWS,
    REPEAT_BELOW_ROWS,
    REPEATS,
    Dataset,
    Fidelity,
    cross_validate,
    make_folds,
    subsample,
)
from automl.metrics import METRICS


class RowSpy(TransformerMixin, BaseEstimator):
    """Records the ``row_id`` values of every ``fit`` it sees, then drops that column."""

    seen: ClassVar[list[set[int]]] = []

    def fit(self, X, y=None):
        RowSpy.seen.append(set(X["row_id"].astype(int)))
        return self

    def transform(self, X):
        return X.drop(columns="row_id").to_numpy()


def _dataset(n_rows=100, n_classes=3, seed=0) -> Dataset:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n_rows)
    X = pd.DataFrame({"row_id": np.arange(n_rows), "signal": y + rng.normal(0, 0.7, n_rows)})
    return Dataset(X, y, y, make_folds(y, cv=5, random_state=seed), n_classes)


def test_folds_are_stratified_and_validate_every_row_once():
    y = np.repeat([0, 1, 2], [50, 30, 20])
    folds = make_folds(np.tile(y, 10), cv=5, random_state=1)
    assert len(folds) == 5
    validated = np.concatenate(folds.valid) % 100
    assert sorted(validated) == sorted(np.repeat(np.arange(100), 10))
    for valid in folds.valid:
        assert list(np.bincount(np.tile(y, 10)[valid])) == [100, 60, 40]
    assert folds.train_fraction == pytest.approx(0.8)


def test_small_data_is_validated_in_repeated_partitions():
    y = np.repeat([0, 1], [300, 200])
    folds = make_folds(y, cv=5, random_state=1)
    assert (len(folds), folds.n_repeats) == (5 * REPEATS, REPEATS)
    assert "repeated" in folds.description
    for repeat in range(REPEATS):
        validated = np.concatenate(folds.valid[5 * repeat : 5 * (repeat + 1)])
        assert sorted(validated) == list(range(500))
    # Each repeat is another partition, not the same one again.
    first, second = ({frozenset(v) for v in folds.valid[5 * r : 5 * r + 5]} for r in (0, 1))
    assert first.isdisjoint(second)


def test_medium_data_is_validated_once():
    y = np.arange(REPEAT_BELOW_ROWS) % 2
    folds = make_folds(y, cv=5)
    assert (len(folds), folds.n_repeats) == (5, 1)


def test_repeated_out_of_fold_probabilities_are_the_mean_over_repeats():
    data = _dataset(n_rows=200)
    assert data.folds.n_repeats == REPEATS
    result = cross_validate(data, LogisticRegression(), METRICS["log_loss"])
    X = data.X.to_numpy()
    expected = np.zeros_like(result.oof_proba, dtype=float)
    for train, valid in zip(data.folds.train, data.folds.valid, strict=True):
        expected[valid] += LogisticRegression().fit(X[train], data.y[train]).predict_proba(X[valid])
    np.testing.assert_allclose(result.oof_proba, expected / REPEATS, rtol=1e-5)


def test_a_class_smaller_than_the_folds_lowers_their_number_with_a_warning():
    y = np.array([0] * 20 + [1] * 3)
    with pytest.warns(UserWarning, match="using 3 folds"):
        folds = make_folds(y, cv=5)
    assert len(folds) == 3 * folds.n_repeats


def test_large_data_gets_one_holdout_split():
    y = np.arange(HOLDOUT_ABOVE_ROWS + 10) % 2
    folds = make_folds(y)
    assert len(folds) == 1
    assert "holdout" in folds.description


@pytest.mark.parametrize("n_rows", [120, 2000, HOLDOUT_ABOVE_ROWS + 10])
def test_a_class_with_one_member_trains_in_every_split_and_is_never_validated(n_rows):
    y = np.arange(n_rows) % 2
    y[7] = 2
    with pytest.warns(UserWarning, match="one member"):
        folds = make_folds(y, cv=5)
    assert len(folds) in (1, 5 * folds.n_repeats)  # a holdout, or k-fold not cut to 2 folds
    for train, valid in zip(folds.train, folds.valid, strict=True):
        assert 7 in train and 7 not in valid
        assert sorted(np.concatenate([train, valid])) == list(range(n_rows))


def test_rows_split_as_they_are_when_only_one_class_has_more_than_one_member():
    y = np.array([0] * 20 + [1])
    folds = make_folds(y, cv=5)
    assert len(folds) == 2 * folds.n_repeats
    assert any(20 in valid for valid in folds.valid)


def test_no_validation_row_reaches_any_fit():
    data = _dataset()
    RowSpy.seen = []
    pipeline = Pipeline([("spy", RowSpy()), ("model", LogisticRegression())])
    cross_validate(data, pipeline, METRICS["log_loss"])
    assert len(RowSpy.seen) == len(data.folds)
    for seen, train, valid in zip(RowSpy.seen, data.folds.train, data.folds.valid, strict=True):
        assert seen == set(train)
        assert seen.isdisjoint(valid)


def test_out_of_fold_probabilities_give_the_fold_scores():
    data = _dataset(n_rows=REPEAT_BELOW_ROWS)
    pipeline = Pipeline([("spy", RowSpy()), ("model", LogisticRegression())])
    result = cross_validate(data, pipeline, METRICS["log_loss"])
    assert not np.isnan(result.oof_proba).any()
    np.testing.assert_allclose(result.oof_proba.sum(axis=1), 1.0, rtol=1e-6)
    for score, valid in zip(result.scores, data.folds.valid, strict=True):
        assert score == pytest.approx(
            METRICS["log_loss"](data.y_codes[valid], result.oof_proba[valid])
        )
    assert np.mean(result.scores) < np.log(3) - 0.2  # well below chance: the signal is learnt
    assert result.fit_time > 0


def test_a_lower_fidelity_fits_fewer_rows_on_fewer_folds_and_validates_all_of_theirs():
    data = _dataset(n_rows=REPEAT_BELOW_ROWS)
    RowSpy.seen = []
    pipeline = Pipeline([("spy", RowSpy()), ("model", LogisticRegression())])
    result = cross_validate(data, pipeline, METRICS["log_loss"], Fidelity(rows=1 / 3, folds=0.4))
    assert len(RowSpy.seen) == 2 == len(result.scores)
    for seen, train in zip(RowSpy.seen, data.folds.train[:2], strict=True):
        assert seen < set(train) and len(seen) == round(len(train) / 3)
    validated = ~np.isnan(result.oof_proba[:, 0])
    assert set(np.flatnonzero(validated)) == set(np.concatenate(data.folds.valid[:2]))


def test_the_folds_before_the_first_fold_are_not_fitted_again():
    data = _dataset(n_rows=200)
    pipeline = Pipeline([("spy", RowSpy()), ("model", LogisticRegression())])
    whole = cross_validate(data, pipeline, METRICS["log_loss"])
    RowSpy.seen = []
    rest = cross_validate(data, pipeline, METRICS["log_loss"], first_fold=5)
    assert RowSpy.seen == [set(train) for train in data.folds.train[5:]]
    assert rest.scores == whole.scores[5:]


def test_a_fidelity_is_on_all_rows_whatever_its_share_of_the_folds():
    assert Fidelity().on_all_rows and Fidelity(folds=0.2).on_all_rows
    assert not Fidelity(rows=1 / 3).on_all_rows and not Fidelity(rows=0.5, folds=0.2).on_all_rows


def test_fold_models_come_back_only_from_an_evaluation_that_beats_the_bar():
    data, log_loss = _dataset(n_rows=200), METRICS["log_loss"]
    look = Fidelity(folds=1 / REPEATS)
    score = np.mean(cross_validate(data, LogisticRegression(), log_loss, look).scores)
    for bar, n_models in ((None, 5), (-score - 0.01, 5), (-score + 0.01, 0), (np.inf, 0)):
        result = cross_validate(data, LogisticRegression(), log_loss, look, keep_models=True,
                                models_bar=bar)  # fmt: skip
        assert len(result.models) == n_models and np.mean(result.scores) == score


def test_a_subsample_keeps_every_class():
    y = np.array([0] * 5000 + [1] * 3 + [2])
    rows = np.arange(len(y))
    picked = subsample(rows, y, 1 / 9)
    assert set(y[picked]) == {0, 1, 2}
    assert abs(len(picked) - len(y) / 9) <= 3
