"""Warm start: the first pipelines to try on new data, from what worked on similar data.

Two sources, merged, as in auto-sklearn (nearest datasets, Feurer et al. 2015)
and auto-sklearn 2.0 (a greedy portfolio, Feurer et al. 2022), within a share of
the search's time::

    neighbours <- the NEIGHBOURHOOD reference datasets nearest in meta-features
    cost       <- each candidate's fit time on the neighbours, scaled to this data's rows,
                  and up to the fits on each row of the search's first look
    candidates <- the defaults, and those that cost at most MAX_COST_RATIO x the defaults'
                  median cost
    first      <- a greedy portfolio of candidates that covers the neighbourhood together
    then       <- the best pipeline found on each of the N_NEAREST nearest, nearest first,
                  if a candidate
    seeds      <- first and then, alternating, adapted to this data, without repeats,
                  each taken only while the seeds' cost fits in SEED_SHARE of the
                  search's seconds (time budget x cores)

Why the first look: on small data it is one pass of repeated 5-fold CV, which fits
on each row twice as often as the portfolio's 3-fold timing did; at 10 s the seeds
meant to take a quarter of the time took most of it (cleve: 4 evaluations, against
17 of a cold search), and the warm search scored worse on test than the cold one on
11 of the 14 datasets below 1,000 rows (warmstart_v3). The charge leaves 40% fewer seeds
there, but cleve still makes 4 evaluations: a seed that leads is promoted to the full
evaluation, three such passes. Charging that too cost the warm start its lead on
larger data (benchmarks/results/warm_firstlook_report.txt). On larger data the first
look fits on fewer rows than the timing, but there the estimate's scaling to all the
rows served better than one to the rows fitted (1d46031, reverted), so it stays. Tried
again with cheap seeds, it did no better at 10 s (6 of 15 datasets better, 6 worse) and
lost much on krkopt and letter: the portfolio, scored on 1,000-row samples, put tuned
logistic regressions before the boosters that win on all the rows
(benchmarks/results/warm_cheap_report.txt).

Why the candidates are cheap: the tuned pipelines cost a median 3.25 times the
defaults on the neighbours (reference datasets below 1,000 rows), and a search
seeded with them bred from dear leaders: below 1,000 rows at 30 s it made x0.69 of
a cold search's evaluations (evolution alone x0.67, so it is not the hybrid's
screening) and tied with it on test, better on 8 of 14 datasets. Limited to twice the
defaults' median, it made x1.27 and was better on 9 of 14 (11 in another run of the
same code); over all 32 datasets at 30 s, better on 19 and worse on 10 (four splits
each; benchmarks/results/warm_cheap_report.txt).

Why the cost: unbounded, the seeds (tuned boosters of hundreds of trees) cost a
short search a quarter of its evaluations, and at 10 s it found less than a search
started from the defaults (benchmarks/results/warmstart_v1). Why both sources:
leaving each reference dataset out in turn, the portfolio alone left the least
regret on the portfolio's own small scoring runs, but at 60 s a search seeded from
it alone scored worse on the test set of 22 of 32 datasets than one seeded from
both (warmstart_v2 against warmstart_v1). Why the portfolio first: its first pick
is the one candidate that did best across the neighbourhood, the nearest dataset's
best did best on one dataset only. Leaving each reference dataset out, the best of
the first pipeline fell short of the best candidate by a median log loss of 0.074
portfolio first, 0.176 nearest first and 0.117 with the defaults' order, and by a
ROC AUC of 0.016, 0.030 and 0.031 (benchmarks/opening_regret.py); live, see
benchmarks/results/warm_portfolio_first_report.txt.

The seeds open the search with the defaults, in the order :func:`opening` gives: the
hybrid's first population and the first data of its surrogate. Scores measured on
other datasets are not given to the surrogate: they are on other scales, and the
seeds' own scores arrive within seconds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from itertools import zip_longest

import numpy as np

from automl.grammar import Grammar, PipelineSpec
from automl.knowledge import PORTFOLIO_FOLDS, KnowledgeBase

#: Reference datasets the portfolio is chosen for and the costs are estimated on.
NEIGHBOURHOOD = 10
#: Of those, the nearest whose best pipeline is a seed of its own.
N_NEAREST = 5
#: Seeds at most: beyond, the search itself does better than more of the past.
MAX_SEEDS = 12
#: The share of the search's seconds (time budget x cores) the seeds may cost.
SEED_SHARE = 0.25
#: A seed costs at most this many times the defaults' median cost on the neighbours.
MAX_COST_RATIO = 2.0
#: How many times the portfolio's timing fitted on each row: k-fold CV, k - 1 times.
_TIMED_FITS_PER_ROW = PORTFOLIO_FOLDS - 1


def warm_start_pipelines(
    knowledge: KnowledgeBase,
    metafeatures: Mapping[str, float],
    grammar: Grammar,
    *,
    seconds: float | None = None,
    first_look_fits: float = _TIMED_FITS_PER_ROW,
) -> list[PipelineSpec]:
    """Pipelines that did well on reference data like this, adapted to it; best bets first.

    ``seconds`` is what the search may spend (None: no time limit);
    ``first_look_fits``, how many times its first look at a pipeline fits on each
    row (4 for a 5-fold pass): a seed costs at least what it was timed at. No seeds for
    data smaller than every reference dataset: nothing in the knowledge base is like
    it (on 8 rows, the boosters that led on 100 cannot even split).
    """
    n_rows = round(math.exp(metafeatures["log_rows"]))
    if len(knowledge) == 0 or n_rows < knowledge.datasets["n_rows"].min():
        return []
    neighbours = knowledge.nearest(metafeatures, NEIGHBOURHOOD)
    timed = knowledge.fit_seconds(neighbours, n_rows)
    cheap = cheap_candidates(knowledge, timed)
    portfolio = knowledge.greedy_portfolio(MAX_SEEDS, neighbours, cheap)
    cheap_keys = {key for key, ok in zip(knowledge.portfolio, cheap, strict=True) if ok}
    nearest_best = [knowledge.best_pipelines(name, 1)[0] for name in neighbours[:N_NEAREST]]
    nearest_best = [p for p in nearest_best if p.key in cheap_keys]
    scale = max(1.0, first_look_fits / _TIMED_FITS_PER_ROW)
    cost = dict(zip(knowledge.portfolio, scale * timed, strict=True))
    allowance = math.inf if seconds is None else SEED_SHARE * seconds
    seeds: dict[str, PipelineSpec] = {}
    for pipeline in interleave(portfolio, nearest_best):
        adapted = grammar.adapt(pipeline)
        if adapted is None or adapted.key in seeds or cost[pipeline.key] > allowance:
            continue
        seeds[adapted.key] = adapted
        allowance -= cost[pipeline.key]
        if len(seeds) == MAX_SEEDS:
            break
    return list(seeds.values())


def cheap_candidates(knowledge: KnowledgeBase, seconds: np.ndarray) -> np.ndarray:
    """Which of the portfolio's candidates, costing ``seconds`` each, may be seeds:
    the defaults, and those within ``MAX_COST_RATIO`` of the defaults' median
    (all of them if the knowledge base has no defaults to compare with)."""
    is_default = np.array([key in knowledge.defaults for key in knowledge.portfolio], bool)
    if not is_default.any():
        return np.ones(len(knowledge.portfolio), bool)
    return is_default | (seconds <= MAX_COST_RATIO * np.median(seconds[is_default]))


def opening(
    warm: list[PipelineSpec], defaults: list[PipelineSpec], *, defaults_first: bool
) -> list[PipelineSpec]:
    """The search's first pipelines: the warm start's, then the defaults of the
    classifiers they leave out; or, if ``defaults_first``, every default, then the
    warm start's.

    Defaults first on small data (the estimator asks for it below 1,000 rows, where
    it repeats cross-validation), by measurement: there the cheap defaults of every
    classifier gave the final ensemble more than the seeds' tuning did. Leaving each
    dataset out below 1,000 rows, the warm search's best single pipeline beat the
    cold one's on test in 28 of 56 runs at 10 and 30 s and lost in 22, but its
    ensemble, of fewer members, lost in 34 and won in 22 (warm_firstlook); with the
    seeds alternating with the defaults it still lost in 18 of 28 at 10 s
    (warm_alternate). The seeds, costlier than the defaults, crowd them out: cleve at
    10 s made 4 evaluations warm, 16 cold. Cheap seeds first did no better: at 10 s,
    against the defaults first, worse in 12 of 21 runs, better in 5 (warm_cheap_report).
    """
    if defaults_first:
        return list({p.key: p for p in defaults + warm}.values())
    covered = {p.classifier.name for p in warm}
    return warm + [p for p in defaults if p.classifier.name not in covered]


def interleave(first: list, second: list) -> list:
    """first[0], second[0], first[1], second[1], ...; the longer list's rest at the end."""
    return [item for pair in zip_longest(first, second) for item in pair if item is not None]
