"""Warm start: the first pipelines to try on new data, from what worked on similar data.

A greedy portfolio (auto-sklearn 2.0, Feurer et al. 2022) over the reference
datasets nearest to the new data (auto-sklearn 1, Feurer et al. 2015), chosen
within a share of the search's time::

    neighbours <- the NEIGHBOURHOOD reference datasets nearest in meta-features
    cost       <- each candidate's fit time on the neighbours, scaled to this data's rows
    seeds      <- greedily, the candidate that most lowers the neighbours' least regret,
                  among those whose cost still fits in SEED_SHARE of the search's seconds
    adapted to this data, without repeats

Leaving each reference dataset out in turn, this portfolio left less regret than
the nearest datasets' own best pipelines (mean least regret of the first seed 0.083
against 0.148, of eight 0.017 against 0.022). Without the cost, the seeds (tuned
boosters of hundreds of trees) cost a short search a quarter of its evaluations,
and it found less than a search started from the defaults (README.md, "Warm start").

The seeds open the search: the hybrid's first population and the first data of
its surrogate. Scores measured on other datasets are not given to the surrogate:
they are on other scales, and the seeds' own scores arrive within seconds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from automl.grammar import Grammar, PipelineSpec
from automl.knowledge import KnowledgeBase

#: Reference datasets the portfolio is chosen for.
NEIGHBOURHOOD = 10
#: Seeds at most: beyond, the search itself does better than more of the past.
MAX_SEEDS = 8
#: The share of the search's seconds (time budget x cores) the seeds may cost.
SEED_SHARE = 0.25


def warm_start_pipelines(
    knowledge: KnowledgeBase,
    metafeatures: Mapping[str, float],
    grammar: Grammar,
    *,
    seconds: float | None = None,
) -> list[PipelineSpec]:
    """Pipelines that did well on reference data like this, adapted to it; best bets first.

    ``seconds`` is what the search may spend (None: no time limit). No seeds for
    data smaller than every reference dataset: nothing in the knowledge base is like it
    (on 8 rows, the boosters that led on 100 cannot even split).
    """
    n_rows = round(math.exp(metafeatures["log_rows"]))
    if len(knowledge) == 0 or n_rows < knowledge.datasets["n_rows"].min():
        return []
    neighbours = knowledge.nearest(metafeatures, NEIGHBOURHOOD)
    portfolio = knowledge.greedy_portfolio(
        MAX_SEEDS,
        neighbours,
        cost=knowledge.fit_seconds(neighbours, n_rows),
        allowance=math.inf if seconds is None else SEED_SHARE * seconds,
    )
    seeds: dict[str, PipelineSpec] = {}
    for pipeline in portfolio:
        adapted = grammar.adapt(pipeline)
        if adapted is not None:
            seeds.setdefault(adapted.key, adapted)
    return list(seeds.values())
