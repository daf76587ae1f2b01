"""Local Bayesian refinement: a Gaussian process over the leader's numeric hyperparameters.

The forest surrogate ranks pipelines of every shape, but among pipelines of one
classifier it ranks little better than chance (Spearman 0.17 on the knowledge base,
benchmarks/surrogate_accuracy.py), and evolution tunes by random steps. Where a shape
leads and its score turns on a few numeric hyperparameters (a logistic regression's C
after polynomial features: balance_scale's log loss 0.127 with the default, below 0.01
tuned), a Gaussian process over those alone, fitted on that shape's own results,
finds the good region in a few evaluations (Snoek, Larochelle and Adams, "Practical
Bayesian Optimization of Machine Learning Algorithms", NeurIPS 2012)::

    leader     <- the best pipeline so far
    shape      <- its components and categorical values
    dimensions <- its numeric hyperparameters, in their [0, 1] unit space
    results    <- the pipelines of that shape at the fidelity most of them were seen at
    candidates <- Gaussian steps from the leader's values (a trust region)
    if MIN_RESULTS results or more:
        GP (Matern 5/2 with a length per dimension, plus noise) on the dimensions the
            results varied -> score; the others stay at the leader's values
        propose the new candidate of highest expected improvement over the best result
    else:
        propose a new candidate at random: the GP's first results

Only results at one fidelity are compared: scores at different fidelities never
compete as equals.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

from automl.evaluation import Fidelity
from automl.grammar import Grammar, Hyperparameter, PipelineSpec
from automl.history import Trial
from automl.metrics import Metric
from automl.search.surrogate import expected_improvement
from automl.search.variation import positions, with_step

#: Results of the leader's shape, at one fidelity, needed before the GP is trusted.
MIN_RESULTS = 5
#: Candidates scored by expected improvement per proposal.
CANDIDATES = 200
#: Standard deviations of the candidates' steps from the leader, in the unit space
#: (half of the candidates each): a neighbourhood, as in trust-region Bayesian
#: optimisation, where a process fitted on a few results can be believed.
STEPS = (0.05, 0.2)

#: (position in the pipeline, hyperparameter): one numeric dimension of a shape.
Dimension = tuple[int, Hyperparameter]


class Refinement:
    """Proposes the leader's numeric hyperparameters where a GP expects most improvement."""

    def __init__(self, grammar: Grammar, metric: Metric, *, random_state: int = 0):
        self.grammar, self.metric = grammar, metric
        self._rng = np.random.default_rng(random_state)
        # shape -> fidelity -> results (unit values, objective), one per pipeline.
        self._results: dict[tuple, dict[Fidelity, dict[str, tuple[np.ndarray, float]]]] = {}

    def tell(self, trial: Trial) -> None:
        if not trial.ok:
            return
        dimensions = self._dimensions(trial.pipeline)
        if not dimensions:
            return
        by_fidelity = self._results.setdefault(self._shape(trial.pipeline), {})
        results = by_fidelity.setdefault(trial.fidelity, {})
        results[trial.pipeline.key] = (
            _units(trial.pipeline, dimensions),
            float(self.metric.objective(trial.score)),
        )

    def propose(
        self, leader: PipelineSpec, is_new: Callable[[PipelineSpec], bool]
    ) -> PipelineSpec | None:
        """A new pipeline of ``leader``'s shape, at the numeric values of highest expected
        improvement; while the shape has too few results for the GP, a random step from
        the leader's values (None if it has no numeric hyperparameter)."""
        dimensions = self._dimensions(leader)
        if not dimensions:
            return None
        centre = _units(leader, dimensions)
        candidates = self._candidates(centre)
        by_fidelity = self._results.get(self._shape(leader), {})
        # The fidelity with the most results; the dearer one at ties.
        results = max(by_fidelity.items(), key=lambda item: (len(item[1]), item[0].cost),
                      default=(None, {}))[1]  # fmt: skip
        if len(results) < MIN_RESULTS:
            order = self._rng.permutation(CANDIDATES)
        else:
            X = np.array([units for units, _ in results.values()])
            y = np.array([objective for _, objective in results.values()])
            # A dimension the results never varied is kept at the leader's value: the
            # process knows nothing of it, and its uncertainty would draw every choice.
            varied = np.ptp(X, axis=0) > 0
            candidates[:, ~varied] = centre[~varied]
            process = _fitted_process(X[:, varied], y)
            mean, spread = process.predict(candidates[:, varied], return_std=True)
            order = np.argsort(-expected_improvement(mean, spread, y.max()))
        for index in order:
            pipeline = self._with_units(leader, dimensions, candidates[index])
            if is_new(pipeline):
                return pipeline
        return None

    def _candidates(self, centre: np.ndarray) -> np.ndarray:
        scales = np.repeat(STEPS, CANDIDATES // len(STEPS))[:, None]
        steps = scales * self._rng.normal(size=(len(scales), len(centre)))
        return np.clip(centre + steps, 0.0, 1.0)

    def _dimensions(self, pipeline: PipelineSpec) -> list[Dimension]:
        return [
            (position, hp)
            for position, (_, _, step) in enumerate(positions(pipeline))
            for hp in self.grammar.space(step.name)
            if not hp.is_categorical and hp.name in step.kwargs
        ]

    def _shape(self, pipeline: PipelineSpec) -> tuple:
        """What a refinement keeps: each step's component and categorical values."""
        return tuple(
            (slot, step.name, _categorical(step.kwargs, self.grammar.space(step.name)))
            for slot, _, step in positions(pipeline)
        )

    def _with_units(
        self, pipeline: PipelineSpec, dimensions: list[Dimension], units: np.ndarray
    ) -> PipelineSpec:
        steps = positions(pipeline)
        params = [step.kwargs for _, _, step in steps]
        for (position, hp), unit in zip(dimensions, units, strict=True):
            params[position][hp.name] = hp.from_unit(float(unit))
        for (slot, index, step), values in zip(steps, params, strict=True):
            step = self.grammar.complete_step(step.name, values)
            pipeline = with_step(pipeline, slot, index, step)
        return self.grammar.canonical(pipeline)


def _units(pipeline: PipelineSpec, dimensions: list[Dimension]) -> np.ndarray:
    steps = positions(pipeline)
    return np.array([hp.to_unit(steps[position][2].kwargs[hp.name]) for position, hp in dimensions])


def _categorical(params: dict[str, Any], space: tuple[Hyperparameter, ...]) -> tuple:
    return tuple(
        (hp.name, params[hp.name]) for hp in space if hp.is_categorical and hp.name in params
    )


def _fitted_process(X: np.ndarray, y: np.ndarray) -> GaussianProcessRegressor:
    kernel = ConstantKernel(1.0, constant_value_bounds=(1e-2, 1e1)) * Matern(
        length_scale=np.full(X.shape[1], 0.3), length_scale_bounds=(0.01, 10.0), nu=2.5
    ) + WhiteKernel(1e-2, noise_level_bounds=(1e-6, 1.0))
    process = GaussianProcessRegressor(kernel, normalize_y=True, random_state=0)
    with warnings.catch_warnings():
        # A few points may put a length at its bound: the fit is still usable.
        warnings.simplefilter("ignore", ConvergenceWarning)
        return process.fit(X, y)
