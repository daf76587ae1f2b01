"""The hybrid: evolution breeds many children, the surrogate picks which to evaluate.

Evolution improves on what works but spends an evaluation on every child; a
surrogate model is cheap to query but needs candidates. Each step pools the
candidates of the Bayesian search (random pipelines and mutations of the best
ones, SMAC's local search) with ``offspring`` children that evolution breeds
(crossover recombines what the local search's single steps cannot) and a mutation
of the best pipeline of each classifier family tried so far (so that every family
keeps being tuned, not only the one that led early), and evaluates the candidate
of highest acquisition. With probability ``random_share`` it proposes a random
pipeline instead, which the surrogate cannot veto: where the model is wrong, only
that finds out::

    propose the seeds, then random pipelines until the population is filled
    loop:
        if random draw < random_share or the surrogate is not ready:
            propose a random pipeline
        else:
            candidates <- Bayesian candidates (random + mutations of the best)
                          + evolution.breed(offspring) + a mutation of each family's best
            propose argmax over candidates of surrogate.acquisition(candidate)
    on each result: tell the evolution, the surrogate and the standings (the best so far)

Why the families: at 120 s on multiclass data (vowel, soybean) the surrogate kept
choosing mutations of the boosters that led after the seeds, and the hybrid never
improved on its first default LightGBM while random search found a polynomial
logistic regression twice as good. Why the Bayesian candidates: without them (about
30 candidates a step: evolution's children, the families' mutations and random
pipelines) the surrogate had little to choose from, and at 120 s the Bayesian search
ranked ahead of the hybrid on test.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from automl.grammar import Grammar, PipelineSpec
from automl.history import Proposal, Trial
from automl.metrics import Metric
from automl.search.base import random_proposal
from automl.search.evolution import EvolutionSearch
from automl.search.local import Standings, candidates
from automl.search.surrogate import Surrogate
from automl.search.variation import mutate


class HybridSearch:
    """Evolution and a surrogate over the same results, through one ask/tell interface."""

    def __init__(
        self,
        grammar: Grammar,
        metric: Metric,
        *,
        seeds: Sequence[PipelineSpec] = (),
        offspring: int = 10,
        random_share: float = 0.25,
        random_state: int = 0,
    ):
        self.evolution = EvolutionSearch(grammar, metric, seeds=seeds, random_state=random_state)
        self.surrogate = Surrogate(grammar, metric, random_state=random_state)
        self.standings = Standings(metric)
        self.offspring = offspring
        self.random_share = random_share
        self._rng = np.random.default_rng(random_state + 1)

    def ask(self) -> Proposal | None:
        if (proposal := self.evolution.initial()) is not None:
            return proposal
        if self.surrogate.ready and self._rng.random() >= self.random_share:
            pool = self._new(
                candidates(self.evolution.grammar, self.standings.leaders(), self._rng)
                + self.evolution.breed(self.offspring)
                + self._tuned_champions()
            )
            if pool:
                choice = pool[int(np.argmax(self.surrogate.acquisition(pool)))]
                self.evolution.mark_proposed(choice)
                return Proposal(choice, "hybrid")
        return random_proposal(self.evolution.grammar, self.evolution.novelty, self._rng)

    def tell(self, trial: Trial) -> None:
        self.evolution.tell(trial)
        self.surrogate.tell(trial)
        self.standings.tell(trial)

    def _tuned_champions(self) -> list[PipelineSpec]:
        grammar = self.evolution.grammar
        return [mutate(p, grammar, self._rng) for p in self.standings.family_champions()]

    def _new(self, pipelines: list[PipelineSpec]) -> list[PipelineSpec]:
        return [p for p in dict.fromkeys(pipelines) if self.evolution.novelty.is_new(p)]
