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

#: Draws in a row that may repeat earlier proposals before the space counts as exhausted.
_MAX_REPEATS = 200


class RandomSearch:
    """Proposes ``seeds`` in order, then uniformly random, distinct pipelines."""

    def __init__(
        self, grammar: Grammar, *, seeds: Sequence[PipelineSpec] = (), random_state: int = 0
    ):
        self.grammar = grammar
        self._seeds = list(seeds)
        self._rng = np.random.default_rng(random_state)
        self._proposed: set[str] = set()

    def ask(self) -> Proposal | None:
        while self._seeds:
            seed = self._seeds.pop(0)
            if self._first_time(seed):
                return Proposal(seed, "default")
        for _ in range(_MAX_REPEATS):
            pipeline = self.grammar.sample(self._rng)
            if self._first_time(pipeline):
                return Proposal(pipeline, "random")
        return None

    def tell(self, trial: Trial) -> None:
        """Random search learns nothing from results."""

    def _first_time(self, pipeline: PipelineSpec) -> bool:
        if pipeline.key in self._proposed:
            return False
        self._proposed.add(pipeline.key)
        return True
