"""Evaluations of proposed pipelines in the worker pool, turned into trials."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence

import numpy as np

from automl.checkpoint import Journal
from automl.evaluation import (
    FULL,
    Dataset,
    FoldScores,
    cross_validate,
    fit_on_all_rows,
    predictions_digest,
)
from automl.grammar import Grammar, PipelineSpec
from automl.history import Proposal, Trial
from automl.metrics import Metric
from automl.workers import Outcome, WorkerPool

#: How long one wait for refits lasts; the pool enforces each fit's own time limit.
_REFIT_WAIT_SECONDS = 5.0


class EvaluationRunner:
    """Cross-validates pipelines in child processes, each under its own time limit.

    Parameters
    ----------
    pool : WorkerPool
        Where the evaluations run; the data is shared with it once, here.
    data : Dataset
    grammar : Grammar
        Builds the scikit-learn pipeline of each proposal.
    metric : Metric
    random_state : int
        The seed of every pipeline, so that a score depends on (seed, pipeline) only.
    clock : callable
        Seconds; ``finished_at`` of a trial is measured from ``start`` on it.
    memory_limit : int or None
        Bytes each evaluation and refit may allocate; beyond, it ends as ``memout``.
    journal : Journal or None
        Evaluations it holds are served from it instead of being run; new ones are
        added to it as they finish.
    """

    def __init__(
        self,
        pool: WorkerPool,
        data: Dataset,
        grammar: Grammar,
        metric: Metric,
        *,
        random_state: int,
        clock: Callable[[], float],
        start: float,
        memory_limit: int | None = None,
        journal: Journal | None = None,
    ):
        self.pool, self.grammar, self.metric = pool, grammar, metric
        self.memory_limit = memory_limit
        self.journal = journal
        self._replayed: list[Trial] = []
        self.folds = data.folds
        self._data = pool.share(data)
        self._random_state = random_state
        self._clock, self._start = clock, start
        self._proposals: dict[int, Proposal] = {}
        self._n_trials = 0

    @property
    def n_running(self) -> int:
        return len(self._proposals) + len(self._replayed)

    def build(self, pipeline: PipelineSpec):
        """The unfitted scikit-learn pipeline of ``pipeline``, seeded."""
        return self.grammar.build(pipeline, random_state=self._random_state)

    def submit(
        self, proposal: Proposal, time_limit: float, models_bar: float | None = None
    ) -> None:
        """Start cross-validating ``proposal``; its trial comes out of :meth:`wait`.

        A first look keeps its fold models only if it scores above ``models_bar``
        (:meth:`History.models_bar`)."""
        done = self.journal.lookup(proposal.pipeline, proposal.fidelity) if self.journal else None
        if done is not None:
            self._n_trials += 1
            finished_at = self._clock() - self._start
            self._replayed.append(
                dataclasses.replace(
                    done, number=self._n_trials, origin=proposal.origin, finished_at=finished_at
                )
            )
            return
        estimator = self.build(proposal.pipeline)
        # Fold models of evaluations on all training rows of their folds make bagged
        # ensembles; on large data (one holdout split) any fold model may stand in for a
        # refit that would not fit.
        all_rows = proposal.fidelity.on_all_rows
        bar = models_bar if all_rows and proposal.fidelity != FULL else None
        done = proposal.reuses.fidelity.n_folds(len(self.folds)) if proposal.reuses else 0
        evaluate = functools.partial(
            cross_validate,
            keep_models=all_rows or len(self.folds) == 1,
            models_bar=bar,
            first_fold=done,
        )
        task = self.pool.submit(
            evaluate,
            self._data,
            estimator,
            self.metric,
            proposal.fidelity,
            time_limit=time_limit,
            memory_limit=self.memory_limit,
        )
        self._proposals[task] = proposal

    def wait(self, timeout: float) -> list[Trial]:
        """Trials of the evaluations that finish within ``timeout`` seconds."""
        replayed, self._replayed = self._replayed, []
        if replayed and not self._proposals:
            return replayed
        outcomes = self.pool.wait(0.0 if replayed else timeout)
        trials = [self._trial(o) for o in outcomes if o.task_id in self._proposals]
        if self.journal is not None:
            for trial in trials:
                if trial.status != "cancelled":  # stopped by the end of the search: not a result
                    self.journal.record(trial)
        return replayed + trials

    def cancel(self) -> None:
        """Stop every running evaluation; they end as ``cancelled`` trials."""
        self.pool.cancel("cancelled")

    def refit(self, pipeline: PipelineSpec, time_limit: float) -> Outcome:
        """Fit ``pipeline`` on all rows in a child process; the fitted model is the value."""
        return self.refit_all([pipeline], n_jobs=1, time_limit=lambda: time_limit)[0]

    def refit_all(
        self, pipelines: Sequence[PipelineSpec], *, n_jobs: int, time_limit: Callable[[], float]
    ) -> list[Outcome | None]:
        """Fit each of ``pipelines`` on all rows, ``n_jobs`` at a time.

        Each fit may take ``time_limit()`` seconds, as it is when the fit starts; a
        pipeline whose turn comes when no time is left is not fitted (None).
        """
        waiting = list(enumerate(pipelines))
        running: dict[int, int] = {}
        outcomes: list[Outcome | None] = [None] * len(pipelines)
        while waiting or running:
            while waiting and len(running) < n_jobs:
                index, pipeline = waiting.pop(0)
                limit = time_limit()
                if limit > 0:
                    task = self.pool.submit(
                        fit_on_all_rows,
                        self._data,
                        self.build(pipeline),
                        time_limit=limit,
                        memory_limit=self.memory_limit,
                    )
                    running[task] = index
            if not running:
                break
            for outcome in self.pool.wait(_REFIT_WAIT_SECONDS):
                if outcome.task_id in running:
                    outcomes[running.pop(outcome.task_id)] = outcome
        return outcomes

    def _trial(self, outcome: Outcome) -> Trial:
        proposal = self._proposals.pop(outcome.task_id)
        self._n_trials += 1
        common = dict(
            number=self._n_trials,
            pipeline=proposal.pipeline,
            origin=proposal.origin,
            duration=outcome.duration,
            finished_at=self._clock() - self._start,
            fidelity=proposal.fidelity,
        )
        if outcome.status != "ok":
            return Trial(status=outcome.status, error=outcome.error, **common)
        scores: FoldScores = outcome.value
        if not np.all(np.isfinite(scores.scores)):
            return Trial(
                status="failed", error="the metric is undefined on a validation fold", **common
            )
        # A promotion's first folds are those of its cheaper evaluation; its predictions
        # and fold models are of the other folds only (each row validated fewer times).
        reused = proposal.reuses
        fold_scores = (reused.fold_scores if reused else ()) + scores.scores
        return Trial(
            status="ok",
            score=float(np.mean(fold_scores)),
            score_std=float(np.std(fold_scores)),
            fold_scores=fold_scores,
            fit_time=scores.fit_time + (reused.fit_time if reused else 0.0),
            # Only evaluations on all training rows of their folds feed an ensemble. A look
            # at a share of the rows that ranks first stands alone: refitted, it outgrows
            # the weights its predictions would get (krkopt at 30 s: test log loss 0.51
            # alone, 0.58 in an ensemble).
            oof_proba=scores.oof_proba if proposal.fidelity.on_all_rows else None,
            models=scores.models,
            predictions_digest=predictions_digest(scores.oof_proba),
            **common,
        )
