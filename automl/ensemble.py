"""Ensemble selection: a weighted average of the best pipelines' class probabilities.

Caruana, Niculescu-Mizil, Crew and Ksikes, "Ensemble Selection from Libraries of
Models" (ICML 2004), as auto-sklearn uses it: greedy forward selection, with
replacement, on the out-of-fold predictions that cross-validation left behind, so
that choosing the ensemble costs no fit at all::

    candidates <- the 10 best pipelines evaluated in full, at most 3 with one
                  classifier while others are left; places left free go to first
                  looks that validated the same rows (on small data one repeat of
                  the CV), likewise; on medium data, until two pipelines are
                  evaluated in full, the first looks, on their one fold
                  (history.ensemble_candidates)
    ensemble   <- [the best pipeline]              (sorted initialisation)
    repeat size - 1 times:
        add the candidate (again, if it is the best choice) whose addition makes
        the mean of the ensemble's probabilities score best on the metric
    weight of a pipeline <- how often it was added / size

The fitted ensemble is scikit-learn's soft-voting ``VotingClassifier`` over the
refitted members (frozen, so that the vote does not refit them): an exported
ensemble needs nothing beyond scikit-learn, LightGBM and XGBoost to load.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from sklearn.ensemble import VotingClassifier
from sklearn.frozen import FrozenEstimator

from automl.history import History, Trial
from automl.metrics import Metric

#: Selection scores at most this many validated rows (a fixed random subset): the
#: metric is computed size x candidates times.
MAX_ROWS = 10_000
#: Probabilities scored at once while selecting (about 2**21 numbers: 16 MB a copy).
BLOCK_CELLS = 2**21


def select_ensemble(
    trials: Sequence[Trial], y_codes: np.ndarray, metric: Metric, size: int
) -> list[tuple[Trial, float]]:
    """Members and weights of the ensemble of ``size`` picks over ``trials``.

    ``trials`` come best first and carry out-of-fold probabilities; the first one
    is always a member. Weights sum to 1.
    """
    candidates = [t for t in trials if t.oof_proba is not None]
    if not candidates:
        return []
    rows = _validated_rows(candidates, len(y_codes))
    y = y_codes[rows]
    probabilities = np.stack([t.oof_proba[rows].astype(float) for t in candidates])
    counts = np.zeros(len(candidates), dtype=int)
    counts[0], total = 1, probabilities[0].copy()
    for picks in range(1, size):
        scores = np.concatenate([metric.many(y, (total + block) / (picks + 1))
                                 for block in _blocks(probabilities)])  # fmt: skip
        choice = int(np.argmax(metric.objective(scores)))  # ties: the better-ranked candidate
        counts[choice] += 1
        total += probabilities[choice]
    return [(t, float(c / size)) for t, c in zip(candidates, counts, strict=True) if c > 0]


class EnsembleSelector:
    """Ensemble selection over the best trials, made again only when they change.

    The search asks it, as results come in, which members the ensemble would have
    if it stopped now (on a holdout split it keeps time to refit them); the estimator
    asks it for the final ensemble, which is then often the choice already made.
    """

    def __init__(self, y_codes: np.ndarray, metric: Metric, size: int):
        self.y_codes, self.metric, self.size = y_codes, metric, size
        self._top: tuple[Trial, ...] = ()
        self._chosen: list[tuple[Trial, float]] = []

    def __call__(self, history: History) -> list[tuple[Trial, float]]:
        """Members and weights, best first, chosen among the ensemble candidates of
        ``history``: only those keep their fold models for a bagged ensemble, and a
        refitted one chooses among as many, so that watching it costs the search little."""
        best = history.best()
        if best is not None and best.oof_proba is None:
            # One ranked first having been fitted on a share of the rows only kept no
            # predictions to weigh: it stands alone.
            return []
        top = tuple(history.ensemble_candidates())
        if top != self._top:
            self._top = top
            self._chosen = select_ensemble(top, self.y_codes, self.metric, self.size)
        return self._chosen


def _blocks(probabilities: np.ndarray) -> list[np.ndarray]:
    """The candidates' tables in blocks of about BLOCK_CELLS numbers: the arrays a batch
    metric makes of each block stay small."""
    n_blocks = math.ceil(len(probabilities) * probabilities[0].size / BLOCK_CELLS)
    return np.array_split(probabilities, min(len(probabilities), n_blocks))


def _validated_rows(candidates: Sequence[Trial], n_rows: int) -> np.ndarray:
    """Rows that every candidate validated (all of them, or a holdout's), at most MAX_ROWS."""
    validated = np.ones(n_rows, dtype=bool)
    for trial in candidates:
        validated &= ~np.isnan(trial.oof_proba).any(axis=1)
    rows = np.flatnonzero(validated)
    if len(rows) > MAX_ROWS:
        rows = np.sort(np.random.default_rng(0).choice(rows, MAX_ROWS, replace=False))
    return rows


def bagged_ensemble(
    members: Sequence[tuple[Trial, float]], X, y, n_classes: int
) -> VotingClassifier | None:
    """The soft vote of every member's fold models, each weighted by its member's weight
    over its number of folds: no refit, and the variance of each model averaged away
    (bagging, as AutoGluon does). None unless every member kept its fold models and
    each of them knows every class, or if one fold model would vote alone: the refit
    on all rows does better."""
    if not members or not all(trial.models for trial, _ in members):
        return None
    if len(members) == 1 and len(members[0][0].models) == 1:
        return None
    models = [(model, weight / len(trial.models)) for trial, weight in members
              for model in trial.models]  # fmt: skip
    if any(len(model.classes_) != n_classes for model, _ in models):
        return None
    return voting_ensemble(models, X, y)


def voting_ensemble(members: Sequence[tuple[object, float]], X, y) -> VotingClassifier:
    """A fitted soft vote over fitted ``members`` (model, weight); ``X, y`` as in their fit."""
    estimators = [(f"member_{i}", FrozenEstimator(model)) for i, (model, _) in enumerate(members)]
    vote = VotingClassifier(estimators, voting="soft", weights=[w for _, w in members])
    return vote.fit(X, y)
