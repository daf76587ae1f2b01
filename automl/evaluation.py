"""Scoring one pipeline by cross-validation, as a pure function.

:func:`cross_validate` depends only on its arguments (an unfitted pipeline, the
data, the folds and the metric), so it can run in a worker process here or on a
cluster elsewhere. Each fold fits a fresh clone on its training rows only: the
imputers, encoders and scalers never see the validation rows.
"""

from __future__ import annotations

import hashlib
import time
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import (
    RepeatedStratifiedKFold,
    StratifiedKFold,
    StratifiedShuffleSplit,
)
from sklearn.utils import resample

from automl.metrics import Metric

#: Above this many rows one stratified holdout split replaces k-fold cross-validation.
HOLDOUT_ABOVE_ROWS = 10_000
HOLDOUT_FRACTION = 0.2
#: Below this many rows k-fold is repeated with new shuffles, ``REPEATS`` times: one
#: partition of a few hundred rows gives a noisy score, and choosing the best of
#: hundreds of noisy scores picks luck ("over-fitting in model selection", Cawley and
#: Talbot, JMLR 2010). Fits on so few rows are fast, and successive halving runs the
#: extra repeats only for the pipelines that did well on the first.
REPEAT_BELOW_ROWS = 1000
REPEATS = 3


@dataclass(frozen=True, eq=False)
class Folds:
    """Training and validation row indices of each split, repeat after repeat."""

    train: tuple[np.ndarray, ...]
    valid: tuple[np.ndarray, ...]
    description: str
    #: How many times every row is validated, each time in another partition.
    n_repeats: int = 1

    def __len__(self) -> int:
        return len(self.train)

    @property
    def train_fraction(self) -> float:
        """Share of the rows a fold trains on: how much a refit on all rows costs more."""
        n_rows = len(self.train[0]) + len(self.valid[0])
        return len(self.train[0]) / n_rows


@dataclass(frozen=True)
class Fidelity:
    """How much of a full evaluation a trial gets, for successive halving.

    ``rows``: the share of each fold's training rows that the pipeline fits on;
    ``folds``: the share of the folds evaluated (at least one). Validation rows are
    never subsampled, so that scores at one fidelity compare fairly.
    """

    rows: float = 1.0
    folds: float = 1.0

    @property
    def cost(self) -> float:
        """The share of a full evaluation's work."""
        return self.rows * self.folds

    @property
    def on_all_rows(self) -> bool:
        """Whether each fold fits on all its training rows: the fold models and the
        predictions are those of the pipeline itself, not of one fitted on a sample."""
        return self.rows == 1

    def n_folds(self, total: int) -> int:
        return max(1, round(self.folds * total))

    def fits_per_row(self, folds: Folds) -> float:
        """How many times an evaluation at this fidelity fits on each row, on average."""
        return self.n_folds(len(folds)) * folds.train_fraction * self.rows

    def __str__(self) -> str:
        parts = [
            f"{share:.2g} {name}"
            for name, share in (("rows", self.rows), ("folds", self.folds))
            if share < 1
        ]
        return ", ".join(parts) or "full"


FULL = Fidelity()


@dataclass(frozen=True, eq=False)
class Dataset:
    """Everything an evaluation needs besides the pipeline; shared once with the workers."""

    X: object
    y: np.ndarray
    y_codes: np.ndarray
    folds: Folds
    n_classes: int


@dataclass(frozen=True, eq=False)
class FoldScores:
    """What cross-validating one pipeline gives."""

    scores: tuple[float, ...]
    #: Out-of-fold probabilities, one row per sample, averaged over repeats (NaN where
    #: a row was never validated).
    oof_proba: np.ndarray
    fit_time: float
    predict_time: float
    #: The fitted fold models, when asked for (they predict class codes).
    models: tuple = ()


def make_folds(y_codes: np.ndarray, *, cv: int = 5, random_state: int | None = 0) -> Folds:
    """Stratified k-fold splits, repeated on small data; one holdout split on large data.

    With fewer members in the smallest class than ``cv``, the number of folds
    drops to that count (at least 2) with a warning. The row of a class with one
    member trains in every split and is never validated, with a warning: validated,
    it would be by a model that never saw its class, and it would cut k-fold to two
    folds for every other class. (Unless fewer than two classes have more members:
    then the rows split as they are.)
    """
    counts = np.bincount(y_codes)
    alone = np.flatnonzero(counts[y_codes] == 1)
    rest = np.flatnonzero(counts[y_codes] > 1)
    if len(np.unique(y_codes[rest])) < 2:  # nothing else to split on: split as they are
        alone, rest = alone[:0], np.arange(len(y_codes))
    elif len(alone):
        warnings.warn(
            f"{len(alone)} class(es) with one member: kept in classes_ and trained on in "
            "every split, but never validated.",
            UserWarning,
            stacklevel=2,
        )
    n_rows, n_repeats = len(y_codes), 1
    if n_rows > HOLDOUT_ABOVE_ROWS:
        splitter = StratifiedShuffleSplit(1, test_size=HOLDOUT_FRACTION, random_state=random_state)
        description = f"holdout ({HOLDOUT_FRACTION:.0%} of {n_rows} rows)"
    elif n_rows < REPEAT_BELOW_ROWS:
        n_splits, n_repeats = _fold_count(y_codes[rest], cv), REPEATS
        splitter = RepeatedStratifiedKFold(
            n_splits=n_splits, n_repeats=n_repeats, random_state=random_state
        )
        description = f"{n_splits}-fold cross-validation repeated {n_repeats} times"
    else:
        n_splits = _fold_count(y_codes[rest], cv)
        splitter = StratifiedKFold(n_splits, shuffle=True, random_state=random_state)
        description = f"{n_splits}-fold cross-validation"
    with warnings.catch_warnings():
        # The smallest-class warning is ours to give, once, in _fold_count.
        warnings.simplefilter("ignore", UserWarning)
        splits = list(splitter.split(rest, y_codes[rest]))
    return Folds(
        train=tuple(np.concatenate([rest[train], alone]) for train, _ in splits),
        valid=tuple(rest[valid] for _, valid in splits),
        description=description,
        n_repeats=n_repeats,
    )


def _fold_count(y_codes: np.ndarray, cv: int) -> int:
    counts = np.bincount(y_codes)
    smallest = int(counts[counts > 0].min())
    if smallest >= cv:
        return cv
    n_splits = max(2, smallest)
    warnings.warn(
        f"The smallest class has {smallest} member(s), fewer than cv={cv} folds; "
        f"using {n_splits} folds instead.",
        UserWarning,
        stacklevel=3,
    )
    return n_splits


def take_rows(X, rows: np.ndarray):
    """Rows of a DataFrame or an array, by position."""
    return X.iloc[rows] if isinstance(X, pd.DataFrame) else X[rows]


def cross_validate(
    data: Dataset,
    pipeline,
    metric: Metric,
    fidelity: Fidelity = FULL,
    *,
    keep_models: bool = False,
    models_bar: float | None = None,
    first_fold: int = 0,
) -> FoldScores:
    """Fit ``pipeline`` on each fold's training rows and score its validation rows.

    A lower ``fidelity`` uses the first folds only, and fits on a stratified share of
    each fold's training rows (the same subsample for every pipeline).
    ``keep_models`` returns the fitted fold models too: on large data they can stand
    in for a refit on all rows that would not fit in the time left; with ``models_bar``,
    only if the mean score's objective (:attr:`Metric.objective`) is above it: shipping
    a forest's fold models back to the search made a first look 5% slower, wasted where
    they would not be kept.
    ``first_fold`` skips the folds before it (evaluated already, at a lower fidelity):
    the scores, predictions and models are those of the folds from it on.
    Errors propagate: the caller records them as the evaluation's failure.
    """
    X, y_codes = data.X, data.y_codes
    proba_sum = np.zeros((len(y_codes), data.n_classes))
    n_validated = np.zeros(len(y_codes))
    scores, models, fit_time, predict_time = [], [], 0.0, 0.0
    folds = slice(first_fold, fidelity.n_folds(len(data.folds)))
    for train, valid in zip(data.folds.train[folds], data.folds.valid[folds], strict=True):
        train = subsample(train, y_codes, fidelity.rows)
        model = clone(pipeline)
        start = time.perf_counter()
        model.fit(take_rows(X, train), y_codes[train])
        fit_time += time.perf_counter() - start
        start = time.perf_counter()
        proba = class_probabilities(model, take_rows(X, valid), data.n_classes)
        predict_time += time.perf_counter() - start
        proba_sum[valid] += proba
        n_validated[valid] += 1
        scores.append(metric(y_codes[valid], proba))
        if keep_models:
            models.append(model)
    if models_bar is not None and metric.objective(np.mean(scores)) <= models_bar:
        models = []
    with np.errstate(invalid="ignore"):
        oof = (proba_sum / n_validated[:, None]).astype(np.float32)
    return FoldScores(tuple(scores), oof, fit_time, predict_time, tuple(models))


def predictions_digest(oof_proba: np.ndarray) -> str:
    """A short identifier of validation predictions: equal only where every bit is."""
    return hashlib.sha1(np.ascontiguousarray(oof_proba).tobytes()).hexdigest()[:16]


def subsample(rows: np.ndarray, y_codes: np.ndarray, fraction: float) -> np.ndarray:
    """A stratified ``fraction`` of ``rows``, always the same one for the same inputs.

    Every class of ``rows`` keeps at least one row, so that a model fitted on the
    subsample knows every class.
    """
    if fraction >= 1.0:
        return rows
    classes, first = np.unique(y_codes[rows], return_index=True)
    n_keep = min(len(rows), max(len(classes), round(fraction * len(rows))))
    picked = resample(rows, n_samples=n_keep, replace=False, stratify=y_codes[rows], random_state=0)
    missing = ~np.isin(classes, y_codes[picked])
    return np.union1d(picked, rows[first[missing]])


def fit_on_all_rows(data: Dataset, pipeline):
    """``pipeline`` fitted on every row with the original labels: the model users get."""
    return clone(pipeline).fit(data.X, data.y)


def class_probabilities(model, X, n_classes: int) -> np.ndarray:
    """``predict_proba`` with one column per class code, also for classes unseen in fit."""
    proba = np.asarray(model.predict_proba(X), dtype=float)
    if proba.shape[1] == n_classes:
        return proba
    full = np.zeros((proba.shape[0], n_classes))
    full[:, np.asarray(model.classes_, dtype=int)] = proba
    return full
