"""A model of the search space: predicted score, its uncertainty, and the cost of a pipeline.

A random forest over the grammar's numeric encoding, its spread across trees taken
as the uncertainty, as in SMAC (Hutter, Hoos and Leyton-Brown, "Sequential
Model-Based Optimization for General Algorithm Configuration", LION 2011). A second
forest predicts the evaluation time, so that the acquisition can weigh expected
improvement against cost (Snoek et al., "Practical Bayesian Optimization of Machine
Learning Algorithms", NeurIPS 2012, EI per second; here per square root of a second,
which favours cheap pipelines less blindly)::

    target       <- the share of the pipelines that a result beats (see Ladder: by
                    fidelity, then score), failures none
    prior        <- mean target of the pipeline's classifier, shrunk to one half
    mean, spread <- prior + forest over (encoding, fidelity -> target - prior)
    cost         <- forest over (encoding, fidelity -> log evaluation time)
    both predicted at full fidelity
    acquisition  <- EI(mean, spread, best target) / sqrt(cost)

Why the prior: the classifier is the strongest single predictor of a pipeline's score,
but it is one of many columns of the encoding, and a forest that draws half of them at
each split often leaves it out. Why ranks: in log loss one overconfident pipeline
scores far off (15 where the rest score below 2) and drags the mean that every
classifier's is shrunk to, which makes the classifier tried most look best; on led24
the hybrid then spent 81 of 99 evaluations on MLPs (CV log loss 0.833; with ranks
0.801, mostly logistic regressions). On the knowledge base's portfolio (30 pipelines
seen, the rest predicted, 107 reference datasets) the forest alone on raw scores
ranked the unseen pipelines with a Spearman correlation of 0.47 (0.12 among the
pipelines of one classifier), the classifier's mean of ranks alone 0.63 (0.00), the
two together 0.66 (0.17), and on raw scores 0.57 (0.12)
(benchmarks/surrogate_accuracy.py, FINDINGS.md).

EI per second was measured against it in the hybrid at 30 s on 25 datasets: 2% more
evaluations, test better on 8 datasets and worse on 12 (eips_30s_report.txt).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import norm
from sklearn.ensemble import RandomForestRegressor

from automl.evaluation import FULL, Fidelity
from automl.grammar import Grammar, PipelineSpec
from automl.history import Trial
from automl.metrics import Metric
from automl.search.base import Ladder

#: Successful trials the model needs before its predictions are used.
MIN_OBSERVATIONS = 8
#: Refit once the trials grew by this share (and at least this many) since the last fit.
_REFIT_GROWTH, _REFIT_MIN_NEW = 0.1, 3
_TREES = 30
_MIN_SECONDS = 0.05
#: Pseudo-observations of _MIDDLE in a classifier's mean target: a classifier seen
#: once is not taken at its word.
_PRIOR_WEIGHT = 2.0
#: The share of results a pipeline of a classifier not seen yet is expected to beat.
_MIDDLE = 0.5


class Surrogate:
    """Learns from every trial it is told; ranks candidate pipelines by acquisition."""

    def __init__(self, grammar: Grammar, metric: Metric, *, random_state: int = 0):
        self.grammar, self.metric = grammar, metric
        self._random_state = random_state
        self._trials: list[Trial] = []
        self._fitted_on = 0
        self._fitted_X = np.empty((0, 0))
        self._score_model: RandomForestRegressor | None = None
        self._ladder = Ladder(metric)
        self._prior: dict[str, float] = {}
        self._cost_model: RandomForestRegressor | None = None
        self._best = -np.inf

    @property
    def ready(self) -> bool:
        return sum(t.ok for t in self._trials) >= MIN_OBSERVATIONS

    def tell(self, trial: Trial) -> None:
        self._trials.append(trial)
        self._ladder.tell(trial)

    def predict(self, pipelines: Sequence[PipelineSpec]) -> tuple[np.ndarray, np.ndarray]:
        """Mean and spread of the share of the pipelines so far that each pipeline would
        beat evaluated in full (the scale of :meth:`Ladder.share`)."""
        self._refit_if_stale()
        return self._predicted_share(pipelines, self._at_full_fidelity(pipelines))

    def acquisition(self, pipelines: Sequence[PipelineSpec]) -> np.ndarray:
        """Expected improvement over the best result's share beaten, per square root of a
        second."""
        self._refit_if_stale()
        X = self._at_full_fidelity(pipelines)
        mean, spread = self._predicted_share(pipelines, X)
        improvement = expected_improvement(mean, spread, self._best)
        return improvement / np.sqrt(np.maximum(self._seconds(X), _MIN_SECONDS))

    def _predicted_share(
        self, pipelines: Sequence[PipelineSpec], X: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        per_tree = _per_tree_predictions(self._score_model, X) + self._priors(pipelines)
        return per_tree.mean(axis=0), per_tree.std(axis=0)

    def _priors(self, pipelines: Sequence[PipelineSpec]) -> np.ndarray:
        return np.array([self._prior.get(p.classifier.name, _MIDDLE) for p in pipelines])

    def _seconds(self, X: np.ndarray) -> np.ndarray:
        if self._cost_model is None:
            # Fitted on first use, on the score model's trials: the hybrid never asks.
            durations = [max(t.duration, _MIN_SECONDS) for t in self._trials[: self._fitted_on]]
            self._cost_model = self._forest().fit(self._fitted_X, np.log(durations))
        return np.exp(self._cost_model.predict(X))

    def _refit_if_stale(self) -> None:
        grown = len(self._trials) - self._fitted_on
        if self._score_model is not None and grown < max(
            _REFIT_MIN_NEW, _REFIT_GROWTH * self._fitted_on
        ):
            return
        # Ranks, not raw scores: see "Why ranks" above.
        target = np.array([self._ladder.result_share(t) for t in self._trials])
        self._best = target.max()
        pipelines = [t.pipeline for t in self._trials]
        self._prior = _shrunk_means([p.classifier.name for p in pipelines], target)
        self._fitted_X = np.array([self._features(t.pipeline, t.fidelity) for t in self._trials])
        residual = target - self._priors(pipelines)
        self._score_model = self._forest().fit(self._fitted_X, residual)
        self._cost_model = None
        self._fitted_on = len(self._trials)

    def _at_full_fidelity(self, pipelines: Sequence[PipelineSpec]) -> np.ndarray:
        return np.array([self._features(p, FULL) for p in pipelines])

    def _features(self, pipeline: PipelineSpec, fidelity: Fidelity) -> np.ndarray:
        # The fidelity is an input: cheap results inform the prediction of a full one.
        shares = [np.log(fidelity.rows), np.log(fidelity.folds)]
        return np.append(self.grammar.encode(pipeline), shares)

    def _forest(self) -> RandomForestRegressor:
        return RandomForestRegressor(
            n_estimators=_TREES,
            min_samples_leaf=2,
            max_features=0.5,
            random_state=self._random_state,
        )


def _shrunk_means(groups: Sequence[str], values: np.ndarray) -> dict[str, float]:
    """Each group's mean of ``values``, with _PRIOR_WEIGHT pseudo-values of _MIDDLE."""
    groups = np.asarray(groups)
    return {
        group: float((values[groups == group].sum() + _PRIOR_WEIGHT * _MIDDLE)
                     / (np.sum(groups == group) + _PRIOR_WEIGHT))
        for group in set(groups)
    }  # fmt: skip


def _per_tree_predictions(forest: RandomForestRegressor, X: np.ndarray) -> np.ndarray:
    """Each tree's prediction, trees by rows: one pass for all trees, not one call per tree."""
    leaves = forest.apply(X)
    return np.array(
        [tree.tree_.value[leaves[:, i], 0, 0] for i, tree in enumerate(forest.estimators_)]
    )


def expected_improvement(mean: np.ndarray, spread: np.ndarray, best: float) -> np.ndarray:
    """E[max(0, f - best)] for f ~ Normal(mean, spread), larger objectives being better."""
    spread = np.maximum(spread, 1e-9)
    z = (mean - best) / spread
    return (mean - best) * norm.cdf(z) + spread * norm.pdf(z)
