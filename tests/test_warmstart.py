"""Warm start: seeds from similar reference datasets, valid here, opening the search."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from sklearn.datasets import make_classification

from automl import AutoClassifier
from automl.components import default_candidates, default_grammar
from automl.data import check_training_data
from automl.knowledge import KnowledgeBase
from automl.metafeatures import compute_metafeatures
from automl.warmstart import (
    MAX_COST_RATIO,
    MAX_SEEDS,
    N_NEAREST,
    NEIGHBOURHOOD,
    SEED_SHARE,
    cheap_candidates,
    opening,
    warm_start_pipelines,
)
from tests.helpers import REPO, mixed_frame

KNOWLEDGE = KnowledgeBase.load(REPO / "tests" / "fixtures" / "knowledge")


def _seeds(X, y, knowledge=KNOWLEDGE, seconds=None, **options):
    data = check_training_data(X, y)
    grammar = default_grammar(data.profile)
    metafeatures = compute_metafeatures(data.X, data.y_codes, data.profile)
    seeds = warm_start_pipelines(knowledge, metafeatures, grammar, seconds=seconds, **options)
    return grammar, metafeatures, seeds


def test_seeds_are_valid_here_distinct_and_few():
    # The reference datasets are all numeric: their pipelines need an encoder here.
    grammar, _, seeds = _seeds(*mixed_frame(200))
    assert 0 < len(seeds) <= MAX_SEEDS
    assert len({s.key for s in seeds}) == len(seeds)
    for seed in seeds:
        assert not grammar.problems(seed)
        assert seed.encoding is not None


def test_the_portfolio_comes_first_then_the_nearest_datasets_best_pipeline():
    # The shipped knowledge base: there the two differ for this data.
    shipped = KnowledgeBase.load()
    X, y = mixed_frame(200)
    grammar, metafeatures, seeds = _seeds(X, y, knowledge=shipped)
    neighbours = shipped.nearest(metafeatures, NEIGHBOURHOOD)
    cheap = cheap_candidates(shipped, shipped.fit_seconds(neighbours, len(y)))
    first = grammar.adapt(shipped.greedy_portfolio(1, neighbours, cheap)[0])
    allowed = {key for key, ok in zip(shipped.portfolio, cheap, strict=True) if ok}
    nearest_best = [shipped.best_pipelines(name, 1)[0] for name in neighbours[:N_NEAREST]]
    nearest = grammar.adapt(next(p for p in nearest_best if p.key in allowed))
    assert first != nearest and seeds[:2] == [first, nearest]


def test_no_seed_costs_more_than_twice_the_defaults_median():
    X, y = mixed_frame(200)
    _, metafeatures, unlimited = _seeds(X, y)
    seconds = KNOWLEDGE.fit_seconds(KNOWLEDGE.nearest(metafeatures, NEIGHBOURHOOD), len(y))
    # The fixture has no defaults: every candidate is a seed. With the cheapest one
    # (naive Bayes) a default, the random forest, three times dearer, is left out.
    assert len(unlimited) == len(KNOWLEDGE.portfolio)
    cheapest = KNOWLEDGE.portfolio[int(np.argmin(seconds))]
    with_default = replace(KNOWLEDGE, defaults=frozenset({cheapest}))
    affordable = {
        KNOWLEDGE.pipelines[key].classifier.name
        for key, cost in zip(KNOWLEDGE.portfolio, seconds, strict=True)
        if cost <= MAX_COST_RATIO * seconds.min()
    }
    seeds = _seeds(X, y, knowledge=with_default)[2]
    assert affordable == {"gaussian_nb", "logistic_regression"}
    assert {s.classifier.name for s in seeds} == affordable


def test_a_short_search_gets_only_the_seeds_it_can_afford():
    X, y = mixed_frame(200)
    _, metafeatures, unlimited = _seeds(X, y)
    neighbourhood = KNOWLEDGE.nearest(metafeatures, NEIGHBOURHOOD)
    cost = dict(zip(KNOWLEDGE.portfolio, KNOWLEDGE.fit_seconds(neighbourhood, 200), strict=True))
    cheapest = min(cost.values())
    assert len(unlimited) == len(KNOWLEDGE.portfolio) and max(cost.values()) > 2 * cheapest
    # The search affords 1.5 times the cheapest candidate: one seed, and not a dear one.
    _, _, afforded = _seeds(X, y, seconds=1.5 * cheapest / SEED_SHARE)
    affordable = {
        KNOWLEDGE.pipelines[key].classifier.name for key in cost if cost[key] <= 1.5 * cheapest
    }
    assert len(afforded) == 1 and afforded[0].classifier.name in affordable
    assert _seeds(X, y, seconds=0.0)[2] == []


def test_a_first_look_that_fits_more_than_the_timing_did_affords_fewer_seeds():
    X, y = mixed_frame(200)
    seconds = 6.0
    # The portfolio was timed in 3-fold CV (each row fitted twice); a 5-fold first
    # look fits each row 4 times, so the seeds cost twice as much...
    doubled = _seeds(X, y, seconds=seconds, first_look_fits=4.0)[2]
    assert doubled == _seeds(X, y, seconds=seconds / 2)[2]
    assert len(doubled) < len(_seeds(X, y, seconds=seconds)[2])
    # ...while a look at fewer rows keeps the estimate scaled to all of them.
    assert _seeds(X, y, seconds=seconds, first_look_fits=0.5)[2] == _seeds(X, y, seconds=seconds)[2]


def test_an_empty_knowledge_base_gives_no_seeds():
    assert _seeds(*mixed_frame(200), knowledge=KnowledgeBase.empty())[2] == []


def test_data_smaller_than_every_reference_dataset_gets_no_seeds():
    smallest = int(KNOWLEDGE.datasets["n_rows"].min())
    assert _seeds(*mixed_frame(smallest - 10))[2] == []
    assert _seeds(*mixed_frame(smallest))[2] != []


@pytest.fixture(scope="module")
def frame():
    return mixed_frame(300, seed=1)


def test_a_warm_fit_opens_with_the_seeds_and_a_cold_one_with_the_defaults():
    # 1,200 rows: cross-validation does not repeat, and the seeds come first.
    X, y = mixed_frame(1200, seed=1)
    grammar, _, seeds = _seeds(X, y)
    warm = AutoClassifier(time_budget=None, max_evals=3, search="random", warm_start=KNOWLEDGE)
    warm.fit(X, y)
    tried = [t.pipeline for t in sorted(warm.history_.trials, key=lambda t: t.number)]
    assert {p.key for p in tried} <= {s.key for s in seeds}
    cold = AutoClassifier(time_budget=None, max_evals=3, search="random", warm_start=False)
    cold.fit(X, y)
    defaults = {p.key for p in grammar.default_pipelines()[:3]}
    assert {t.pipeline.key for t in cold.history_.trials} == defaults


def test_on_small_data_a_warm_fit_opens_with_the_defaults_too(frame):
    # 300 rows: cross-validation repeats, and every default goes before the seeds.
    X, y = frame
    tried = []
    for warm_start in (KNOWLEDGE, False):
        model = AutoClassifier(
            time_budget=None, max_evals=3, search="random", warm_start=warm_start
        )
        tried.append({t.pipeline.key for t in model.fit(X, y).history_.trials})
    warm, cold = tried
    assert warm == cold


def test_the_seeds_come_before_the_defaults_they_leave_out_or_after_all_of_them():
    grammar, _, seeds = _seeds(*mixed_frame(200))
    defaults = grammar.default_pipelines()
    others = [p for p in defaults if p.classifier.name not in {s.classifier.name for s in seeds}]
    assert others
    assert opening(seeds, defaults, defaults_first=False) == seeds + others
    after = opening(seeds, defaults, defaults_first=True)
    assert after[: len(defaults)] == defaults
    assert {p.key for p in after} == {p.key for p in defaults + seeds}
    assert len(after) == len({p.key for p in after})


def test_a_default_in_the_portfolio_adapts_to_the_default_pipeline_here():
    # So that the opening does not try one default twice under two keys.
    for X, y in (mixed_frame(200), make_classification(200, random_state=0)):
        grammar = default_grammar(check_training_data(X, y).profile)
        for candidate in default_candidates():
            assert grammar.adapt(candidate) == grammar.default_pipeline(candidate.classifier.name)


def test_leaving_one_dataset_out_changes_the_seeds():
    data = check_training_data(*mixed_frame(200))
    metafeatures = compute_metafeatures(data.X, data.y_codes, data.profile)
    nearest = KNOWLEDGE.nearest(metafeatures, 1)[0]
    without = KNOWLEDGE.without([nearest])
    assert nearest not in without.datasets.index
    assert without.nearest(metafeatures, 1)[0] != nearest


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_a_bad_warm_start_is_refused(frame, value):
    with pytest.raises(ValueError, match="warm_start must be True, False or a KnowledgeBase"):
        AutoClassifier(warm_start=value, max_evals=1).fit(*frame)


def test_warm_start_does_not_touch_the_users_data(frame):
    X, y = frame
    before = X.copy()
    AutoClassifier(time_budget=None, max_evals=2, warm_start=KNOWLEDGE).fit(X, y)
    assert X.equals(before) and np.array_equal(y, mixed_frame(300, seed=1)[1])
