"""Asynchronous successive halving over the share of training rows (multi-fidelity).

ASHA (Li et al., "A System for Massively Parallel Hyperparameter Tuning", MLSys
2020): a new pipeline first trains on a small share of each fold's rows; whenever
a worker is free, a pipeline in the top 1/eta of its rung moves up to the next,
eta times larger share, so that only those that keep winning reach full
cross-validation. There is no barrier between rungs::

    ask:
        for each rung, from the second highest down:
            if a pipeline in the top 1/eta of the rung's results has not moved up yet:
                propose it again at the next rung's fidelity
        otherwise propose the searcher's next pipeline at the lowest fidelity
    tell: record the result in its rung, and pass it on to the searcher
"""

from __future__ import annotations

import dataclasses
from itertools import pairwise

from automl.history import Proposal, Trial
from automl.metrics import Metric
from automl.search.base import Searcher

#: The smallest share of rows is at least this many rows: below, scores say little.
MIN_RUNG_ROWS = 2000
ETA = 3
MAX_RUNGS = 3


def fidelity_levels(n_train_rows: int) -> tuple[float, ...]:
    """The shares of training rows of each rung, smallest first, ending with 1."""
    levels = [1.0]
    while len(levels) < MAX_RUNGS and n_train_rows * levels[0] / ETA >= MIN_RUNG_ROWS:
        levels.insert(0, levels[0] / ETA)
    return tuple(levels)


class SuccessiveHalving:
    """Wraps a searcher: its proposals start cheap, and only the best grow to full size."""

    def __init__(self, searcher: Searcher, metric: Metric, fidelities: tuple[float, ...]):
        self.searcher, self.metric = searcher, metric
        self.fidelities = fidelities
        self._rungs: dict[float, list[Trial]] = {level: [] for level in fidelities}
        self._promoted: set[tuple[str, float]] = set()

    def ask(self) -> Proposal | None:
        for lower, upper in reversed(list(pairwise(self.fidelities))):
            trial = self._promotable(lower)
            if trial is not None:
                self._promoted.add((trial.pipeline.key, lower))
                return Proposal(trial.pipeline, "promoted", fidelity=upper)
        proposal = self.searcher.ask()
        if proposal is None:
            return None
        return dataclasses.replace(proposal, fidelity=self.fidelities[0])

    def tell(self, trial: Trial) -> None:
        if trial.ok and trial.fidelity in self._rungs:
            self._rungs[trial.fidelity].append(trial)
        self.searcher.tell(trial)

    def _promotable(self, level: float) -> Trial | None:
        rung = sorted(self._rungs[level], key=lambda t: -self.metric.objective(t.score))
        for trial in rung[: len(rung) // ETA]:
            if (trial.pipeline.key, level) not in self._promoted:
                return trial
        return None
