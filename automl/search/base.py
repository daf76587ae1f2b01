"""The interface every search strategy implements: ask for a pipeline, tell its result.

Strategies see the shared history only through :meth:`Searcher.tell`, so that
any of them can be swapped for another, or composed with one, without the loop
that runs the evaluations knowing which it is.
"""

from __future__ import annotations

import dataclasses
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from automl.grammar import Grammar, PipelineSpec
from automl.history import Proposal, Trial
from automl.metrics import Metric

#: Draws in a row that may repeat earlier proposals before the space counts as exhausted.
MAX_REPEATS = 200


class Searcher(Protocol):
    """Proposes pipelines and learns from how they did."""

    def ask(self) -> Proposal | None:
        """The next pipeline to evaluate, or None when the strategy has nothing left."""

    def tell(self, trial: Trial) -> None:
        """The outcome of a pipeline this searcher proposed."""


class TimeBlind:
    """Hides measured times from a searcher, so that its proposals depend on scores only.

    Searchers weigh fit times (to prefer cheaper pipelines); times vary from run to
    run, so under an evaluation-count budget this makes a seeded search repeat exactly.
    """

    def __init__(self, searcher: Searcher):
        self.searcher = searcher

    def ask(self) -> Proposal | None:
        return self.searcher.ask()

    def tell(self, trial: Trial) -> None:
        self.searcher.tell(dataclasses.replace(trial, fit_time=1.0, duration=1.0))


class Novelty:
    """The seeds to propose first, and a memory of what was proposed: no pipeline twice."""

    def __init__(self, seeds: Sequence[PipelineSpec] = ()):
        self._seeds = list(seeds)
        self._proposed: set[str] = set()

    def next_seed(self) -> PipelineSpec | None:
        """The next seed not proposed yet, or None when they are used up."""
        while self._seeds:
            seed = self._seeds.pop(0)
            if self.first_time(seed):
                return seed
        return None

    def first_time(self, pipeline: PipelineSpec) -> bool:
        """True, once, for each pipeline; marks it as proposed."""
        if pipeline.key in self._proposed:
            return False
        self._proposed.add(pipeline.key)
        return True

    def is_new(self, pipeline: PipelineSpec) -> bool:
        return pipeline.key not in self._proposed


class Ladder:
    """Where each pipeline stands among all those evaluated: the share of them it beats,
    a tie counting half.

    A pipeline stands by its latest successful result: first by the fidelity that result
    reached, then by its score. Successive halving moves a pipeline up only when it beats
    most of its rung, so it stands above those left below; and scores at different
    fidelities never compete as equals: a cheap look can flatter every pipeline (one
    repeat of a small dataset's CV) or undersell it (a third of the rows).
    """

    def __init__(self, metric: Metric):
        self.metric = metric
        self._latest: dict[str, tuple[tuple[float, float], PipelineSpec]] = {}
        self._ascending: list[tuple[float, float]] = []

    def tell(self, trial: Trial) -> None:
        if trial.ok:
            # Latest last, so that at equal standing the earlier result leads; a promoted
            # pipeline counts once, with its result on more rows.
            self._latest.pop(trial.pipeline.key, None)
            self._latest[trial.pipeline.key] = (self._standing(trial), trial.pipeline)
            self._ascending = sorted(standing for standing, _ in self._latest.values())

    def share(self, pipeline: PipelineSpec) -> float:
        """The share of the pipelines that ``pipeline``, evaluated before, beats."""
        return self._share_beaten(self._latest[pipeline.key][0])

    def leaders(self, count: int) -> list[PipelineSpec]:
        """The ``count`` best pipelines, best first; the earlier result first at ties."""
        ranked = sorted(self._latest.values(), key=lambda entry: entry[0], reverse=True)
        return [pipeline for _, pipeline in ranked[:count]]

    def result_share(self, trial: Trial) -> float:
        """The share of the pipelines that ``trial``'s result would beat were it its
        pipeline's latest; a failure beats none."""
        return self._share_beaten(self._standing(trial)) if trial.ok else 0.0

    def _standing(self, trial: Trial) -> tuple[float, float]:
        return trial.fidelity.cost, self.metric.objective(trial.score)

    def _share_beaten(self, standing: tuple[float, float]) -> float:
        below = bisect_left(self._ascending, standing)
        at_most = bisect_right(self._ascending, standing)
        return (below + at_most) / (2 * len(self._ascending))


def opening_proposal(
    grammar: Grammar, novelty: Novelty, rng: np.random.Generator, *, ready: bool
) -> Proposal | None:
    """A seed while any is left, then random pipelines until a strategy is ``ready``."""
    seed = novelty.next_seed()
    if seed is not None:
        return Proposal(seed, "seed")
    return None if ready else random_proposal(grammar, novelty, rng)


def random_proposal(
    grammar: Grammar, novelty: Novelty, rng: np.random.Generator
) -> Proposal | None:
    """A random pipeline not proposed before, or None if the space seems exhausted."""
    for _ in range(MAX_REPEATS):
        pipeline = grammar.sample(rng)
        if novelty.first_time(pipeline):
            return Proposal(pipeline, "random")
    return None
