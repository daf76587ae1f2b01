"""The metric registry agrees with scikit-learn and survives small folds."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import log_loss, roc_auc_score

from automl.metrics import METRICS, get_metric


def _random_problem(n_classes: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, 200)
    proba = rng.dirichlet(np.ones(n_classes), 200)
    return y, proba


def test_roc_auc_matches_scikit_learn_for_binary_and_multiclass():
    y, proba = _random_problem(2)
    assert METRICS["roc_auc"](y, proba) == pytest.approx(roc_auc_score(y, proba[:, 1]))
    y, proba = _random_problem(4)
    expected = roc_auc_score(y, proba, multi_class="ovr", average="macro")
    assert METRICS["roc_auc"](y, proba) == pytest.approx(expected)


def test_roc_auc_skips_a_class_absent_from_the_fold():
    y, proba = _random_problem(3)
    present = y != 2
    score = METRICS["roc_auc"](y[present], proba[present])
    assert np.isfinite(score)


def test_log_loss_is_finite_on_certain_wrong_answers():
    y = np.array([0, 1, 2])
    proba = np.eye(3)[[1, 2, 0]]
    value = METRICS["log_loss"](y, proba)
    assert np.isfinite(value) and value > 10
    y, proba = _random_problem(3)
    assert METRICS["log_loss"](y, proba) == pytest.approx(log_loss(y, proba))


def test_auto_is_roc_auc_for_two_classes_and_log_loss_for_more():
    assert get_metric("auto", 2).name == "roc_auc"
    assert get_metric("auto", 5).name == "log_loss"
    assert get_metric("auto", 5).objective(0.3) == -0.3


def test_an_unknown_metric_lists_the_choices():
    with pytest.raises(ValueError, match="choose one of"):
        get_metric("precision_at_k", 2)


@pytest.mark.parametrize("n_classes", [2, 4])
@pytest.mark.parametrize("name", ["roc_auc", "log_loss"])
def test_scoring_many_tables_at_once_agrees_with_scikit_learn(name, n_classes):
    rng = np.random.default_rng(1)
    y = rng.integers(0, n_classes, 150)
    if n_classes > 2:
        y[y == n_classes - 1] = 0  # a class absent from the fold
    tables = rng.dirichlet(np.full(n_classes, 0.3), (6, 150))
    tables[1] = np.round(tables[1], 1)  # tied scores
    tables[2] = np.eye(n_classes)[(y + 1) % n_classes]  # certain and wrong
    metric = METRICS[name]
    assert metric.batch is not None
    one_at_a_time = [_scikit_learn(name, y, table) for table in tables]
    np.testing.assert_allclose(metric.many(y, tables), one_at_a_time, rtol=1e-12)


def _scikit_learn(name: str, y: np.ndarray, proba: np.ndarray) -> float:
    """The metric through scikit-learn, one table at a time: log loss as the metric
    computes it (clipped at 1e-15), ROC AUC one-vs-rest over the classes present."""
    if name == "log_loss":
        return METRICS["log_loss"](y, proba)
    if proba.shape[1] == 2:
        return roc_auc_score(y, proba[:, 1])
    present = [k for k in range(proba.shape[1]) if 0 < np.count_nonzero(y == k) < len(y)]
    return np.mean([roc_auc_score(y == k, proba[:, k]) for k in present])
