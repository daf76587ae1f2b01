"""Steady-state evolution of whole pipelines, with DEAP's selection operators.

Genetic programming over pipelines as in TPOT (Olson et al., "Evaluation of a
Tree-based Pipeline Optimization Tool for Automating Data Science", GECCO 2016),
made asynchronous: there is no generation barrier, a child is bred whenever a
worker is free. Survival is NSGA-II (Deb et al., IEEE TEC 2002) on the standing of a
pipeline's result (its fidelity, then its score: see :class:`Ladder`) and fit time,
so that at equal standing the cheaper pipeline stays::

    propose the seeds, then random pipelines until the population is filled
    loop:
        parents <- two tournaments over the population (score first, then fit time)
        child <- crossover(parents) with probability p_cx, then mutate(child)
        propose child unless it was proposed before
    on each result: population <- NSGA-II best `population_size` of population + result
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator, Sequence

import numpy as np
from deap import base, tools

from automl.grammar import Grammar, PipelineSpec
from automl.history import Proposal, Trial
from automl.metrics import Metric
from automl.search.base import MAX_REPEATS, Ladder, Novelty, opening_proposal
from automl.search.variation import crossover, mutate

#: Successful pipelines needed before breeding starts; random ones fill up to it.
_MIN_PARENTS = 8


class PipelineFitness(base.Fitness):
    """Standing up, fit time down."""

    weights = (1.0, -1.0)


class Member:
    """A pipeline of the population, as DEAP's operators expect an individual."""

    __slots__ = ("fit_time", "fitness", "pipeline")

    def __init__(self, pipeline: PipelineSpec, fit_time: float):
        self.pipeline, self.fit_time = pipeline, fit_time
        self.fitness = PipelineFitness()

    @property
    def standing(self) -> float:
        """The share of the pipelines evaluated that this one beats (see :class:`Ladder`)."""
        return self.fitness.values[0]


class EvolutionSearch:
    """Evolves pipelines from the seeds and the results told to it.

    Parameters
    ----------
    grammar : Grammar
    metric : Metric
        Orients the scores (a lower log loss is better).
    seeds : sequence of PipelineSpec
        Proposed first, in order.
    population_size : int
        Members kept for breeding.
    crossover_rate : float
        Share of children bred by crossover (then mutated) rather than by mutation alone.
    random_state : int
    """

    def __init__(
        self,
        grammar: Grammar,
        metric: Metric,
        *,
        seeds: Sequence[PipelineSpec] = (),
        population_size: int = 12,
        crossover_rate: float = 0.3,
        tournament_size: int = 3,
        random_state: int = 0,
    ):
        self.grammar, self.metric = grammar, metric
        self.population_size = population_size
        self.crossover_rate = crossover_rate
        self.tournament_size = tournament_size
        self.population: list[Member] = []
        self.ladder = Ladder(metric)
        self.novelty = Novelty(seeds)
        self._rng = np.random.default_rng(random_state)
        # DEAP's selection draws from the random module; an own instance keeps it seeded.
        self._random = random.Random(random_state)

    @property
    def ready(self) -> bool:
        """Whether there are enough members to breed from."""
        return len(self.population) >= min(self.population_size, _MIN_PARENTS)

    def ask(self) -> Proposal | None:
        if (proposal := self.initial()) is not None:
            return proposal
        children = self.breed(1)
        if not children:
            return None
        self.mark_proposed(children[0])
        return Proposal(children[0], "evolution")

    def initial(self) -> Proposal | None:
        """A seed while any is left, then random pipelines until breeding can start."""
        return opening_proposal(self.grammar, self.novelty, self._rng, ready=self.ready)

    def tell(self, trial: Trial) -> None:
        self.ladder.tell(trial)
        if not trial.ok:
            return
        # A pipeline's result on more rows replaces its earlier, cheaper one.
        self.population = [m for m in self.population if m.pipeline != trial.pipeline]
        self.population.append(Member(trial.pipeline, trial.fit_time))
        for member in self.population:  # every result moves the others' standing
            member.fitness.values = (self.ladder.share(member.pipeline), member.fit_time)
        if len(self.population) > self.population_size:
            self.population = tools.selNSGA2(self.population, self.population_size)

    def breed(self, count: int) -> list[PipelineSpec]:
        """Up to ``count`` distinct children never proposed before.

        They are not marked as proposed: call :meth:`mark_proposed` for the one used.
        """
        children: list[PipelineSpec] = []
        for _ in range(count * MAX_REPEATS):
            if len(children) == count:
                break
            child = self._child()
            if self.novelty.is_new(child) and child not in children:
                children.append(child)
        return children

    def mark_proposed(self, pipeline: PipelineSpec) -> None:
        """Record that ``pipeline`` was proposed, by this searcher or one it serves."""
        self.novelty.first_time(pipeline)

    def _child(self) -> PipelineSpec:
        first, second = self._select(2)
        child = first.pipeline
        if self._rng.random() < self.crossover_rate and first is not second:
            child = crossover(child, second.pipeline, self.grammar, self._rng)
        return mutate(child, self.grammar, self._rng)

    def _select(self, count: int) -> list[Member]:
        with _own_random_state(self._random):
            return tools.selTournament(self.population, count, self.tournament_size)


@contextlib.contextmanager
def _own_random_state(generator: random.Random) -> Iterator[None]:
    """Run with the random module in ``generator``'s state, then restore the global one."""
    saved = random.getstate()
    random.setstate(generator.getstate())
    try:
        yield
    finally:
        generator.setstate(random.getstate())
        random.setstate(saved)
