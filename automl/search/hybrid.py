"""The hybrid: evolution breeds, the surrogate passes on the children that may do well.

Evolution improves on what works but spends an evaluation on every child it
breeds; a surrogate model is cheap to query but only as good as the candidates it
is shown. Here the surrogate, trained on every result so far (the seeds'
included), screens evolution's children one at a time: a child is evaluated if its
optimistic prediction (mean plus one spread across the forest's trees) reaches the
population's median score, and set aside otherwise, up to ``offspring`` children
(pre-screening by a confidence bound: Emmerich, Giannakoglou and Naujoks, IEEE TEC
2006). With probability ``random_share`` the child is evaluated unscreened, so that
where the model is wrong the search still finds out::

    propose the seeds, then random pipelines until the population is filled
    loop:
        if random draw < random_share or the surrogate is not ready:
            propose evolution's next child
        else:
            for up to `offspring` children, bred one at a time:
                propose the first whose mean + spread >= the population's median score
            none did: propose the one of highest mean + spread
    on each result: tell the evolution and the surrogate

Why one child at a time and an optimistic bound: the child the surrogate passes is
the one evolution alone would have proposed unless the model is confident that it
is poor, so the hybrid spends its evaluations as evolution does except where the
surrogate knows better. Choosing among five children bred at once, by the highest
prediction or by the first predicted to reach the median, evaluated children that
evolution would not have, on the model's word alone; both ranked behind evolution.

Earlier rules, each measured on 25 datasets against evolution alone (test mean rank
of four strategies, 1 is best): pooling evolution's children with the Bayesian
search's candidates by expected improvement, 2.68 against 1.80 at 30 s (two splits,
benchmarks/results/ablation_v7_30s_report.txt); expected improvement per square root
of a second over twenty children, behind it (hybrid_children_report.txt); the child
of highest predicted score among five, 2.64 against 2.12 at 30 s (four splits,
ablation_v9_30s_report.txt) and 2.54 against 2.06 at 120 s
(ablation_v8_120s_report.txt); the first of five predicted to reach the median, 2.48
against 2.24 at 30 s and 2.50 against 2.18 at 120 s (hybrid_filter_30s_report.txt,
hybrid_filter_120s_report.txt): behind it, within noise (Friedman p = 0.23 and 0.13).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from automl.grammar import Grammar, PipelineSpec
from automl.history import Proposal, Trial
from automl.metrics import Metric
from automl.search.evolution import EvolutionSearch
from automl.search.surrogate import Surrogate


class HybridSearch:
    """Evolution whose children a surrogate screens, one at a time, through ask/tell.

    Parameters
    ----------
    grammar : Grammar
    metric : Metric
    seeds : sequence of PipelineSpec
        Proposed first, in order.
    offspring : int
        Children screened at most per proposal.
    random_share : float
        Share of proposals evaluated unscreened.
    optimism : float
        Spreads added to the predicted score before it is held against the median.
    random_state : int
    """

    def __init__(
        self,
        grammar: Grammar,
        metric: Metric,
        *,
        seeds: Sequence[PipelineSpec] = (),
        offspring: int = 5,
        random_share: float = 0.2,
        optimism: float = 1.0,
        random_state: int = 0,
    ):
        self.evolution = EvolutionSearch(grammar, metric, seeds=seeds, random_state=random_state)
        self.surrogate = Surrogate(grammar, metric, random_state=random_state)
        self.offspring = offspring
        self.random_share = random_share
        self.optimism = optimism
        self._rng = np.random.default_rng(random_state + 1)

    def ask(self) -> Proposal | None:
        if (proposal := self.evolution.initial()) is not None:
            return proposal
        if self.surrogate.ready and self._rng.random() >= self.random_share:
            return self._screened()
        children = self.evolution.breed(1)
        return self._propose(children[0], "evolution") if children else None

    def tell(self, trial: Trial) -> None:
        self.evolution.tell(trial)
        self.surrogate.tell(trial)

    def _screened(self) -> Proposal | None:
        """Evolution's next child whose optimistic score reaches the population's median;
        after ``offspring`` set aside, the one of them with the highest."""
        median = np.median([member.fitness.values[0] for member in self.evolution.population])
        set_aside: list[PipelineSpec] = []
        bounds: list[float] = []
        while len(set_aside) < self.offspring and (children := self.evolution.breed(1)):
            mean, spread = self.surrogate.predict(children)
            bound = float(mean[0] + self.optimism * spread[0])
            if bound >= median:
                return self._propose(children[0], "hybrid")
            set_aside.append(children[0])
            bounds.append(bound)
        return self._propose(set_aside[int(np.argmax(bounds))], "hybrid") if set_aside else None

    def _propose(self, child: PipelineSpec, origin: str) -> Proposal:
        self.evolution.mark_proposed(child)
        return Proposal(child, origin)
