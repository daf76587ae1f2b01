"""Random search: the seed pipelines first, then pipelines drawn from the grammar.

The baseline every other strategy must beat (Bergstra and Bengio, "Random Search
for Hyper-Parameter Optimization", JMLR 2012)::

    for seed in seeds: propose seed
    loop: propose grammar.sample(rng), unless it was proposed before
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from automl.grammar import Grammar, PipelineSpec
from automl.history import Proposal, Trial
from automl.metrics import Metric
from automl.search.base import Novelty, opening_proposal


class RandomSearch:
    """Proposes ``seeds`` in order, then uniformly random, distinct pipelines.

    ``metric`` is unused: every searcher is built with the same arguments.
    """

    def __init__(
        self,
        grammar: Grammar,
        metric: Metric,
        *,
        seeds: Sequence[PipelineSpec] = (),
        random_state: int = 0,
    ):
        self.grammar = grammar
        self._novelty = Novelty(seeds)
        self._rng = np.random.default_rng(random_state)

    def ask(self) -> Proposal | None:
        return opening_proposal(self.grammar, self._novelty, self._rng, ready=False)

    def tell(self, trial: Trial) -> None:
        """Random search learns nothing from results."""
