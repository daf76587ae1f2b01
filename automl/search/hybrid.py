"""The hybrid: evolution breeds, the surrogate screens which child is evaluated.

Evolution improves on what works but spends an evaluation on every child it
breeds; a surrogate model is cheap to query but only as good as the candidates it
is shown. Here evolution breeds ``offspring`` children at each step and the
surrogate, trained on every result so far (the seeds' included), evaluates the
one it predicts best (surrogate-assisted pre-selection). With probability
``random_share`` the first child bred is evaluated unscreened, so that where the
model is wrong the search still finds out::

    propose the seeds, then random pipelines until the population is filled
    loop:
        children <- evolution.breed(offspring)
        if random draw < random_share or the surrogate is not ready:
            propose children[0]
        else:
            propose the child of highest predicted score
    on each result: tell the evolution and the surrogate

Why evolution leads: at 30 s on 25 datasets (two splits), the hybrid that pooled
evolution's children with the Bayesian search's candidates (random pipelines,
mutations of the leaders) and chose by expected improvement ranked behind evolution
alone on test, 2.68 against 1.80 of 4 (benchmarks/results/ablation_v7_30s_report.txt).
Why the predicted score over five children: expected improvement per square root of
a second over twenty children, a mutation of each family's best and a tenth of random
pipelines made x0.95 evolution's evaluations and ranked behind it
(hybrid_children_report.txt); this screening makes x1.04 and ranked level with it
on two splits, 2.18 against 2.34 of 4 (hybrid_screened_30s_report.txt), behind it on
four, 2.64 against 2.12, within noise, best on CV and worst on test on the two new
ones (ablation_v9_30s_report.txt); at 120 s it ranks behind it, 2.54 against 2.06,
within noise (ablation_v8_120s_report.txt).
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
    """Evolution screened by a surrogate over the same results, through ask/tell."""

    def __init__(
        self,
        grammar: Grammar,
        metric: Metric,
        *,
        seeds: Sequence[PipelineSpec] = (),
        offspring: int = 5,
        random_share: float = 0.2,
        random_state: int = 0,
    ):
        self.evolution = EvolutionSearch(grammar, metric, seeds=seeds, random_state=random_state)
        self.surrogate = Surrogate(grammar, metric, random_state=random_state)
        self.offspring = offspring
        self.random_share = random_share
        self._rng = np.random.default_rng(random_state + 1)

    def ask(self) -> Proposal | None:
        if (proposal := self.evolution.initial()) is not None:
            return proposal
        children = self.evolution.breed(self.offspring)
        if not children:
            return None
        if self.surrogate.ready and self._rng.random() >= self.random_share:
            mean, _ = self.surrogate.predict(children)
            choice, origin = children[int(np.argmax(mean))], "hybrid"
        else:
            choice, origin = children[0], "evolution"
        self.evolution.mark_proposed(choice)
        return Proposal(choice, origin)

    def tell(self, trial: Trial) -> None:
        self.evolution.tell(trial)
        self.surrogate.tell(trial)
