"""The hybrid: evolution breeds, the surrogate screens out the children it expects to be poor.

Evolution improves on what works but spends an evaluation on every child it
breeds; a surrogate model is cheap to query but only as good as the candidates it
is shown. Here evolution breeds ``offspring`` children at each step and the
surrogate, trained on every result so far (the seeds' included), passes the first
one it predicts to stand at least at the population's median: surrogate-assisted
pre-selection (Jin, "Surrogate-assisted evolutionary computation: Recent advances and
future challenges", Swarm and Evolutionary Computation 2011) as a filter, not a
ranking. With probability ``random_share`` the first child bred is evaluated
unscreened, so that where the model is wrong the search still finds out. With
probability ``refine_share`` the step is a local Bayesian refinement of the leader's
numeric hyperparameters instead (:mod:`automl.search.refine`), once its shape has
results enough::

    propose the seeds, then random pipelines until the population is filled
    loop:
        if random draw < refine_share and the refinement has a proposal:
            propose it
        children <- evolution.breed(offspring)
        if random draw < random_share or the surrogate is not ready:
            propose children[0]
        else:
            propose the first child predicted >= the population's median standing,
            or, if none is, the child of highest predicted standing
    on each result: tell the evolution and the surrogate

Why a filter: the roles that let the surrogate choose (the child of highest predicted
score, expected improvement over a pool of children, random pipelines and variations
of the leaders, the cheapest promising child) found better CV scores than evolution
alone and no better test scores; the child of highest predicted score bred the search
into the surrogate's favourite corner, and its ensemble gained a median +0.0018 over
its best pipeline against the filter's +0.0060. The filter keeps evolution's variety,
and on test it is not told apart from evolution alone (28 runs better, 31 worse at
30 s). Each role tried, and what it measured: benchmarks/FINDINGS.md.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from automl.grammar import Grammar, PipelineSpec
from automl.history import Proposal, Trial
from automl.metrics import Metric
from automl.search.evolution import EvolutionSearch
from automl.search.refine import Refinement
from automl.search.surrogate import Surrogate


class HybridSearch:
    """Evolution whose poor children a surrogate screens out, through ask/tell."""

    def __init__(
        self,
        grammar: Grammar,
        metric: Metric,
        *,
        seeds: Sequence[PipelineSpec] = (),
        offspring: int = 5,
        random_share: float = 0.2,
        refine_share: float = 0.25,
        random_state: int = 0,
    ):
        self.evolution = EvolutionSearch(grammar, metric, seeds=seeds, random_state=random_state)
        self.surrogate = Surrogate(grammar, metric, random_state=random_state)
        self.refinement = Refinement(grammar, metric, random_state=random_state)
        self.offspring = offspring
        self.random_share = random_share
        self.refine_share = refine_share
        self._rng = np.random.default_rng(random_state + 1)

    def ask(self) -> Proposal | None:
        if (proposal := self.evolution.initial()) is not None:
            return proposal
        if self._rng.random() < self.refine_share and (refined := self._refined()) is not None:
            self.evolution.mark_proposed(refined)
            return Proposal(refined, "refine")
        children = self.evolution.breed(self.offspring)
        if not children:
            return None
        if self.surrogate.ready and self._rng.random() >= self.random_share:
            choice, origin = self._first_promising(children), "hybrid"
        else:
            choice, origin = children[0], "evolution"
        self.evolution.mark_proposed(choice)
        return Proposal(choice, origin)

    def tell(self, trial: Trial) -> None:
        self.evolution.tell(trial)
        self.surrogate.tell(trial)
        self.refinement.tell(trial)

    def _refined(self) -> PipelineSpec | None:
        leaders = self.evolution.ladder.leaders(1)
        if not leaders:
            return None
        return self.refinement.propose(leaders[0], self.evolution.novelty.is_new)

    def _first_promising(self, children: list[PipelineSpec]) -> PipelineSpec:
        """The first child predicted to stand at least at the population's median, else the
        child predicted best."""
        mean, _ = self.surrogate.predict(children)
        median = np.median([member.standing for member in self.evolution.population])
        promising = np.flatnonzero(mean >= median)
        return children[promising[0] if promising.size else int(np.argmax(mean))]
