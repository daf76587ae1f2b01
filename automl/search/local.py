"""SMAC's local search: candidates around the best pipelines so far, for a surrogate to rank.

A surrogate's acquisition can only choose among the candidates it is shown; random
pipelines of the grammar explore, and single mutations of the leaders refine what
already works (Hutter et al., LION 2011).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from automl.grammar import Grammar, PipelineSpec
from automl.search.variation import mutate

RANDOM_CANDIDATES = 100
#: The best pipelines so far whose mutations are candidates.
LOCAL_PARENTS = 10
MUTATIONS_PER_PARENT = 10


def candidates(
    grammar: Grammar, parents: Sequence[PipelineSpec], rng: np.random.Generator
) -> list[PipelineSpec]:
    """Random pipelines of the grammar and mutations of each parent, without repeats."""
    pool = [grammar.sample(rng) for _ in range(RANDOM_CANDIDATES)]
    for parent in parents:
        pool.extend(mutate(parent, grammar, rng) for _ in range(MUTATIONS_PER_PARENT))
    return list(dict.fromkeys(pool))
