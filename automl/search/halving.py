"""Asynchronous successive halving over rows or folds (multi-fidelity).

ASHA (Li et al., "A System for Massively Parallel Hyperparameter Tuning", MLSys
2020): a new pipeline is first evaluated cheaply, on a share of each fold's
training rows (large data), on one fold (medium data) or on the first of repeated
cross-validations (small data); whenever a worker is free,
a pipeline in the top 1/eta of its rung moves up to the next, larger fidelity, so
that only those that keep winning reach full cross-validation. There is no barrier
between rungs::

    ask:
        for each rung, from the second highest down:
            if a pipeline in the top 1/eta of the rung's results has not moved up yet:
                propose it again at the next rung's fidelity, expected to take
                its last duration times the ratio of the two fidelities' costs
                (on more folds: only the folds not evaluated yet are fitted)
        otherwise propose the searcher's next pipeline at the lowest fidelity
    tell: record the result in its rung (of pipelines with one classifier step that
          predict exactly alike, only the cheapest), and pass it on to the searcher;
          a promotion skipped for time stops the rung's promotions below it
"""

from __future__ import annotations

import dataclasses
from itertools import pairwise

from automl.evaluation import FULL, Fidelity, Folds
from automl.history import SKIPPED, Proposal, Trial
from automl.metrics import Metric
from automl.search.base import Searcher

#: The smallest share of rows is at least this many rows: below, scores say little.
MIN_RUNG_ROWS = 2000
#: One fold first only from this many rows: a fifth of fewer validates too few.
MIN_FOLD_RUNG_ROWS = 1000
ETA = 3
MAX_RUNGS = 3


def fidelity_levels(folds: Folds) -> tuple[Fidelity, ...]:
    """The fidelity of each rung, cheapest first, ending with the full evaluation."""
    n_train = len(folds.train[0])
    if n_train / ETA >= MIN_RUNG_ROWS:
        shares = [1.0]
        while len(shares) < MAX_RUNGS and n_train * shares[0] / ETA >= MIN_RUNG_ROWS:
            shares.insert(0, shares[0] / ETA)
        return tuple(Fidelity(rows=share) for share in shares)
    if folds.n_repeats > 1:
        return (Fidelity(folds=1 / folds.n_repeats), FULL)
    if len(folds) >= ETA and n_train + len(folds.valid[0]) >= MIN_FOLD_RUNG_ROWS:
        return (Fidelity(folds=1 / len(folds)), FULL)
    return (FULL,)


class SuccessiveHalving:
    """Wraps a searcher: its proposals start cheap, and only the best grow to full size."""

    def __init__(self, searcher: Searcher, metric: Metric, fidelities: tuple[Fidelity, ...]):
        self.searcher, self.metric = searcher, metric
        self.fidelities = fidelities
        self._rungs: dict[Fidelity, list[Trial]] = {level: [] for level in fidelities}
        self._promoted: set[tuple[str, Fidelity]] = set()
        self._too_slow: set[tuple[str, Fidelity]] = set()
        self._models: dict[tuple, Trial] = {}

    def ask(self) -> Proposal | None:
        for lower, upper in reversed(list(pairwise(self.fidelities))):
            trial = self._promotable(lower)
            if trial is not None:
                self._promoted.add((trial.pipeline.key, lower))
                return _promotion(trial, upper)
        proposal = self.searcher.ask()
        if proposal is None:
            return None
        return dataclasses.replace(proposal, fidelity=self.fidelities[0])

    def tell(self, trial: Trial) -> None:
        if trial.status == SKIPPED:  # a promotion that would not have ended in time
            lower = self.fidelities[self.fidelities.index(trial.fidelity) - 1]
            self._too_slow.add((trial.pipeline.key, lower))
            return
        if trial.ok and trial.fidelity in self._rungs:
            self._enter(trial)
        self.searcher.tell(trial)

    def _enter(self, trial: Trial) -> None:
        """Adds ``trial`` to its rung, unless it is a copy of a model there.

        A copy predicts exactly as another pipeline with the same classifier: a step
        that did nothing (a variance threshold below every column's variance) made
        it. Of copies the rung keeps the cheapest, and only it may move up, so that
        no evaluation is repeated at a dearer fidelity. A different classifier
        setting that predicts alike on a subsample (a depth limit it never reaches)
        is no copy: it may differ on all rows.
        """
        rung = self._rungs[trial.fidelity]
        if not trial.predictions_digest:  # a trial journaled before digests existed
            rung.append(trial)
            return
        model = (trial.predictions_digest, trial.fidelity, trial.pipeline.classifier)
        copy = self._models.get(model)
        if copy is None:
            rung.append(trial)
        elif trial.fit_time < copy.fit_time and not self._moved_up(copy):
            rung[rung.index(copy)] = trial
        else:
            return
        self._models[model] = trial

    def _moved_up(self, trial: Trial) -> bool:
        return (trial.pipeline.key, trial.fidelity) in self._promoted

    def _promotable(self, level: Fidelity) -> Trial | None:
        rung = sorted(self._rungs[level], key=lambda t: -self.metric.objective(t.score))
        for trial in rung[: len(rung) // ETA]:
            if (trial.pipeline.key, level) in self._too_slow:
                # None overtakes it: a worse pipeline that reached the higher fidelity
                # alone would stand above it in the search (and, past a look at fewer
                # folds, in the choice of the final model).
                return None
            if not self._moved_up(trial):
                return trial
        return None


def _promotion(trial: Trial, upper: Fidelity) -> Proposal:
    """``trial``'s pipeline at the ``upper`` fidelity, expected to take ``trial``'s
    duration times the ratio of the costs. Where only the folds grow, the folds
    ``trial`` evaluated are reused, not fitted again."""
    lower = trial.fidelity
    reuses = trial if lower.rows == upper.rows and trial.fold_scores else None
    new_cost = upper.cost - (lower.cost if reuses else 0.0)
    expected = trial.duration * new_cost / lower.cost
    return Proposal(trial.pipeline, "promoted", upper, expected_seconds=expected, reuses=reuses)
