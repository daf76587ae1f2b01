"""The metrics a search can optimise, computed from predicted probabilities.

Labels are the integer codes ``0..n_classes-1`` and probabilities have one column
per class, so that every metric works the same for binary and multiclass data and
for validation folds in which a class is absent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    f1_score,
    log_loss,
)

#: Probabilities are clipped this far from 0 and 1 so that log loss stays finite.
_EPSILON = 1e-15


@dataclass(frozen=True)
class Metric:
    """A named score of ``(y_true codes, probabilities)``.

    ``batch``, where given, scores a stack of probability tables on the same labels
    at once: what ensemble selection asks for at every pick, once per candidate.
    """

    name: str
    function: Callable[[np.ndarray, np.ndarray], float]
    greater_is_better: bool = True
    batch: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None

    def __call__(self, y_true: np.ndarray, proba: np.ndarray) -> float:
        return float(self.function(y_true, proba))

    def many(self, y_true: np.ndarray, probas: np.ndarray) -> np.ndarray:
        """The score of each of ``probas`` (shape: tables x rows x classes) on ``y_true``."""
        if self.batch is not None:
            return self.batch(y_true, probas)
        return np.array([self(y_true, proba) for proba in probas])

    def objective(self, value: float | np.ndarray) -> float | np.ndarray:
        """``value`` oriented so that larger is always better."""
        return value if self.greater_is_better else -value

    @property
    def worst(self) -> float:
        return -np.inf if self.greater_is_better else np.inf


def _accuracy(y_true: np.ndarray, proba: np.ndarray) -> float:
    return accuracy_score(y_true, proba.argmax(axis=1))


def _balanced_accuracy(y_true: np.ndarray, proba: np.ndarray) -> float:
    return balanced_accuracy_score(y_true, proba.argmax(axis=1))


def _f1_macro(y_true: np.ndarray, proba: np.ndarray) -> float:
    labels = np.arange(proba.shape[1])
    return f1_score(y_true, proba.argmax(axis=1), labels=labels, average="macro", zero_division=0)


def _log_loss(y_true: np.ndarray, proba: np.ndarray) -> float:
    proba = np.clip(proba, _EPSILON, 1 - _EPSILON)
    proba = proba / proba.sum(axis=1, keepdims=True)
    return log_loss(y_true, proba, labels=np.arange(proba.shape[1]))


def _log_loss_batch(y_true: np.ndarray, probas: np.ndarray) -> np.ndarray:
    """``_log_loss`` of each table: only the probability of the true class counts.

    Within 1e-13 of it: the other classes' probabilities are not clipped to
    ``_EPSILON`` before their sum normalises the true one (that copy of every table
    cost more than all the rest).
    """
    true_class = np.take_along_axis(probas, y_true[None, :, None], axis=2)[:, :, 0]
    true_class = np.clip(true_class, _EPSILON, 1 - _EPSILON)
    return -np.mean(np.log(true_class / probas.sum(axis=2)), axis=1)


def _roc_auc(y_true: np.ndarray, proba: np.ndarray) -> float:
    """Binary ROC AUC, or the one-vs-rest macro average over the classes present.

    A class absent from ``y_true`` has no ROC curve; skipping it (instead of
    failing) keeps small validation folds usable.
    """
    return float(_roc_auc_batch(y_true, proba[None])[0])


def _roc_auc_batch(y_true: np.ndarray, probas: np.ndarray) -> np.ndarray:
    """``_roc_auc`` of each table, by the rank-sum (Mann-Whitney) form of the area:
    one sort per table and class, where scikit-learn draws a ROC curve each."""
    if probas.shape[2] == 2:
        return _binary_auc(y_true == 1, probas[:, :, 1])
    per_class = [
        _binary_auc(y_true == k, probas[:, :, k])
        for k in range(probas.shape[2])
        if 0 < np.count_nonzero(y_true == k) < len(y_true)
    ]
    return np.mean(per_class, axis=0) if per_class else np.full(len(probas), np.nan)


def _binary_auc(positive: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Area under the ROC curve of each row of ``scores``; tied scores count half."""
    n_positive = np.count_nonzero(positive)
    n_negative = len(positive) - n_positive
    if n_positive == 0 or n_negative == 0:
        return np.full(len(scores), np.nan)
    ranks = rankdata(scores, axis=1)
    rank_sum = ranks[:, positive].sum(axis=1)
    return (rank_sum - n_positive * (n_positive + 1) / 2) / (n_positive * n_negative)


METRICS: dict[str, Metric] = {
    metric.name: metric
    for metric in (
        Metric("roc_auc", _roc_auc, batch=_roc_auc_batch),
        Metric("log_loss", _log_loss, greater_is_better=False, batch=_log_loss_batch),
        Metric("accuracy", _accuracy),
        Metric("balanced_accuracy", _balanced_accuracy),
        Metric("f1_macro", _f1_macro),
    )
}


def get_metric(name: str, n_classes: int) -> Metric:
    """The metric called ``name``; ``"auto"`` is ROC AUC for two classes, log loss for more."""
    if name == "auto":
        name = "roc_auc" if n_classes == 2 else "log_loss"
    try:
        return METRICS[name]
    except KeyError:
        raise ValueError(f"Unknown metric {name!r}; choose one of {['auto', *METRICS]}.") from None
