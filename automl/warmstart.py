"""Warm start: the first pipelines to try on new data, from what worked on similar data.

Two sources, merged, as in auto-sklearn (nearest datasets, Feurer et al. 2015)
and auto-sklearn 2.0 (a greedy portfolio, Feurer et al. 2022)::

    neighbours <- the k reference datasets nearest in meta-features
    first      <- the best pipelines found on each neighbour, nearest first
    then       <- a greedy portfolio that covers the neighbourhood (2k datasets)
    seeds      <- first and then, alternating, adapted to this data, without repeats

The seeds open the search: the hybrid's first population and the first data of
its surrogate. Scores measured on other datasets are not given to the surrogate:
they are on other scales, and the seeds' own scores arrive within seconds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from itertools import chain, zip_longest

from automl.grammar import Grammar, PipelineSpec
from automl.knowledge import KnowledgeBase

#: Reference datasets whose best pipelines are tried first.
N_NEIGHBOURS = 5
#: Best pipelines taken from each of them.
PER_NEIGHBOUR = 2
#: Pipelines of the greedy portfolio.
PORTFOLIO_SIZE = 8
#: Seeds at most: beyond, the search itself does better than more of the past.
MAX_SEEDS = 12


def warm_start_pipelines(
    knowledge: KnowledgeBase, metafeatures: Mapping[str, float], grammar: Grammar
) -> list[PipelineSpec]:
    """Pipelines that did well on reference data like this, adapted to it; best bets first.

    None for data smaller than every reference dataset: nothing in the knowledge base
    is like it (on 8 rows, the boosters that led on 100 cannot even split).
    """
    n_rows = round(math.exp(metafeatures["log_rows"]))
    if len(knowledge) == 0 or n_rows < knowledge.datasets["n_rows"].min():
        return []
    neighbours = knowledge.nearest(metafeatures, N_NEIGHBOURS)
    from_neighbours = chain.from_iterable(
        knowledge.best_pipelines(name, PER_NEIGHBOUR) for name in neighbours
    )
    neighbourhood = knowledge.nearest(metafeatures, 2 * N_NEIGHBOURS)
    portfolio = knowledge.greedy_portfolio(PORTFOLIO_SIZE, neighbourhood)
    seeds: dict[str, PipelineSpec] = {}
    for pipeline in _alternate(list(from_neighbours), portfolio):
        adapted = grammar.adapt(pipeline)
        if adapted is not None:
            seeds.setdefault(adapted.key, adapted)
    return list(seeds.values())[:MAX_SEEDS]


def _alternate(first: list, second: list) -> list:
    return [item for pair in zip_longest(first, second) for item in pair if item is not None]
