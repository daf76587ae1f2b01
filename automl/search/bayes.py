"""Bayesian optimisation over whole pipelines, SMAC-style.

Candidates come from the grammar at random and from mutations of the best pipelines
so far (the local search of SMAC); the surrogate's acquisition picks among them,
and a share of proposals stays random so that the model cannot lock the search
into one region (Hutter et al., LION 2011)::

    propose the seeds, then random pipelines until the surrogate is ready
    loop:
        with probability p_random: propose a random pipeline
        else: candidates <- random samples + mutations of the best
              propose the candidate of highest acquisition
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from automl.grammar import Grammar, PipelineSpec
from automl.history import Proposal, Trial
from automl.metrics import Metric
from automl.search.base import Ladder, Novelty, opening_proposal, random_proposal
from automl.search.local import LOCAL_PARENTS, candidates
from automl.search.surrogate import Surrogate


class BayesSearch:
    """Proposes the seeds, then what the surrogate expects to improve most for its cost."""

    def __init__(
        self,
        grammar: Grammar,
        metric: Metric,
        *,
        seeds: Sequence[PipelineSpec] = (),
        random_share: float = 0.2,
        random_state: int = 0,
    ):
        self.grammar, self.metric = grammar, metric
        self.random_share = random_share
        self.surrogate = Surrogate(grammar, metric, random_state=random_state)
        self.novelty = Novelty(seeds)
        self.ladder = Ladder(metric)
        self._rng = np.random.default_rng(random_state)

    def ask(self) -> Proposal | None:
        opening = opening_proposal(
            self.grammar, self.novelty, self._rng, ready=self.surrogate.ready
        )
        if opening is not None:
            return opening
        if self._rng.random() < self.random_share:
            return random_proposal(self.grammar, self.novelty, self._rng)
        pool = candidates(self.grammar, self.ladder.leaders(LOCAL_PARENTS), self._rng)
        pool = [c for c in pool if self.novelty.is_new(c)]
        if not pool:
            return random_proposal(self.grammar, self.novelty, self._rng)
        choice = pool[int(np.argmax(self.surrogate.acquisition(pool)))]
        self.novelty.first_time(choice)
        return Proposal(choice, "bayes")

    def tell(self, trial: Trial) -> None:
        self.surrogate.tell(trial)
        self.ladder.tell(trial)
