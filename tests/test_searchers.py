"""The contract every search strategy keeps, and what each adds, on a synthetic objective.

The objective is a fixed function of the pipeline, so these tests need no model
fitting: they check the strategies' own logic, quickly and deterministically.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from automl.components import default_grammar
from automl.data import check_training_data
from automl.evaluation import FULL, Fidelity
from automl.history import Trial
from automl.metrics import get_metric
from automl.search import SEARCHERS
from automl.search.base import Ladder
from automl.search.surrogate import Surrogate
from tests.helpers import mixed_frame

DATA = check_training_data(*mixed_frame(300))
GRAMMAR = default_grammar(DATA.profile)
METRIC = get_metric("log_loss", 2)


def synthetic_loss(pipeline) -> float:
    """Lowest for LightGBM with a learning rate near 0.05 and few leaves; fails for MLPs."""
    if pipeline.classifier.name == "mlp":
        return math.nan
    params = pipeline.classifier.kwargs
    loss = 0.6 if pipeline.classifier.name != "lightgbm" else 0.3
    if "learning_rate" in params:
        loss += 0.1 * abs(math.log(params["learning_rate"] / 0.05))
    loss += 0.002 * params.get("num_leaves", 60)
    return loss + 0.02 * len(pipeline.features)


def run(name: str, n_asks: int, random_state: int = 0) -> list[Trial]:
    searcher = SEARCHERS[name](
        GRAMMAR, METRIC, seeds=GRAMMAR.default_pipelines()[:3], random_state=random_state
    )
    trials = []
    for number in range(n_asks):
        proposal = searcher.ask()
        assert proposal is not None
        loss = synthetic_loss(proposal.pipeline)
        status = "failed" if math.isnan(loss) else "ok"
        trial = Trial(
            number, proposal.pipeline, proposal.origin, status, score=loss,
            fit_time=0.1 + 0.01 * len(proposal.pipeline.features), duration=0.2,
        )  # fmt: skip
        searcher.tell(trial)
        trials.append(trial)
    return trials


@pytest.mark.parametrize("name", SEARCHERS)
def test_seeds_come_first_in_order(name):
    trials = run(name, 5)
    assert [t.pipeline for t in trials[:3]] == GRAMMAR.default_pipelines()[:3]


@pytest.mark.parametrize("name", SEARCHERS)
def test_proposals_are_valid_and_never_repeat(name):
    trials = run(name, 60)
    assert all(GRAMMAR.problems(t.pipeline) == [] for t in trials)
    assert len({t.pipeline.key for t in trials}) == 60


@pytest.mark.parametrize("name", SEARCHERS)
def test_a_seed_determines_every_proposal(name):
    first = [t.pipeline for t in run(name, 40, random_state=7)]
    assert first == [t.pipeline for t in run(name, 40, random_state=7)]
    assert first != [t.pipeline for t in run(name, 40, random_state=8)]


def best_loss(trials: list[Trial]) -> float:
    return min(t.score for t in trials if t.ok)


@pytest.mark.parametrize("other", ["random", "evolution"])
def test_the_hybrid_beats_random_search_and_its_evolution_alone(other):
    # The surrogate's screening of evolution's children is what the hybrid adds.
    hybrid = np.mean([best_loss(run("hybrid", 150, random_state=seed)) for seed in range(5)])
    alone = np.mean([best_loss(run(other, 150, random_state=seed)) for seed in range(5)])
    assert hybrid < alone - 0.015


@pytest.mark.parametrize("name", ["evolution", "bayes"])
def test_each_part_alone_improves_on_its_first_proposals(name):
    # Per seed the first 20 may be lucky; over seeds the gain must be clear.
    gains = []
    for seed in range(5):
        trials = run(name, 150, random_state=seed)
        gains.append(best_loss(trials[:20]) - best_loss(trials))
    assert min(gains) > 0 and np.mean(gains) > 0.04


def test_the_hybrid_uses_the_surrogate_once_it_has_data():
    origins = [t.origin for t in run("hybrid", 60)]
    assert origins[:3] == ["seed"] * 3
    # Random pipelines fill the first population; then children, screened or not, and
    # refinements of the leader.
    assert {"random", "hybrid", "evolution", "refine"} <= set(origins)
    assert set(origins[origins.index("hybrid") :]) <= {"hybrid", "evolution", "refine"}


def test_the_hybrid_screens_out_children_the_surrogate_expects_to_be_poor():
    # Its unscreened children ("evolution") show what breeding alone yields; a failure
    # counts as a loss of 1.0, worse than most pipelines score.
    losses = {"hybrid": [], "evolution": []}
    for seed in range(5):
        for trial in run("hybrid", 150, random_state=seed):
            if trial.origin in losses:
                losses[trial.origin].append(trial.score if trial.ok else 1.0)
    assert np.mean(losses["hybrid"]) < np.mean(losses["evolution"]) - 0.02


def test_the_surrogate_ranks_unseen_pipelines_like_the_objective():
    rng = np.random.default_rng(0)
    surrogate = Surrogate(GRAMMAR, METRIC, random_state=0)
    pipelines = [GRAMMAR.sample(rng) for _ in range(300)]
    for number, pipeline in enumerate(pipelines[:200]):
        loss = synthetic_loss(pipeline)
        status = "failed" if math.isnan(loss) else "ok"
        surrogate.tell(Trial(number, pipeline, "test", status, score=loss, duration=1.0))
    unseen = [p for p in pipelines[200:] if not math.isnan(synthetic_loss(p))]
    mean, spread = surrogate.predict(unseen)
    truth = [-synthetic_loss(p) for p in unseen]
    assert np.corrcoef(mean, truth)[0, 1] > 0.6
    assert np.all(spread >= 0)


def test_the_surrogate_learns_from_few_results_how_much_the_classifier_matters():
    # Scores that depend on the classifier alone: among the encoding's many columns, a
    # forest drawing half of them at each split misses the classifier's (0.71 here).
    classifiers = sorted({p.classifier.name for p in GRAMMAR.default_pipelines()})
    effect = {name: 0.1 * i for i, name in enumerate(classifiers)}
    correlations = []
    for seed in range(3):
        rng = np.random.default_rng(seed)
        seen, unseen = (
            [GRAMMAR.sample(rng) for _ in range(30)],
            [GRAMMAR.sample(rng) for _ in range(100)],
        )
        surrogate = Surrogate(GRAMMAR, METRIC, random_state=0)
        for number, pipeline in enumerate(seen):
            loss = 0.3 + effect[pipeline.classifier.name]
            surrogate.tell(Trial(number, pipeline, "test", "ok", score=loss, duration=1.0))
        mean, _ = surrogate.predict(unseen)
        truth = [-effect[p.classifier.name] for p in unseen]
        correlations.append(np.corrcoef(mean, truth)[0, 1])
    assert np.mean(correlations) > 0.85


def test_one_far_off_loss_does_not_make_the_classifier_tried_most_look_best():
    # As on led24 (ten classes, log loss): logistic regression scored best twice, the MLP
    # a little worse twelve times, and a decision tree's loss of 15 lies far off. Taken as
    # raw scores, that loss drags the mean that every classifier's is shrunk to, and the
    # classifier tried least is shrunk most.
    rng = np.random.default_rng(0)

    def sample(classifier: str):
        return next(p for p in iter(lambda: GRAMMAR.sample(rng), None)
                    if p.classifier.name == classifier)  # fmt: skip

    results = [("logistic_regression", 0.83), ("logistic_regression", 0.85)]
    results += [("mlp", 0.88 + 0.005 * i) for i in range(12)]
    results += [("random_forest", 0.97), ("extra_trees", 0.96), ("lightgbm", 1.35)]
    results += [("knn", 5.4), ("decision_tree", 15.0)]
    surrogate = Surrogate(GRAMMAR, METRIC, random_state=0)
    for number, (classifier, loss) in enumerate(results):
        trial = Trial(number, sample(classifier), "test", "ok", score=loss, duration=1.0)
        surrogate.tell(trial)
    logistic, mlp = (surrogate.predict([sample(c) for _ in range(20)])[0]
                     for c in ("logistic_regression", "mlp"))  # fmt: skip
    assert logistic.mean() > mlp.mean()


def test_the_surrogate_pays_for_improvement_per_square_root_of_a_second():
    rng = np.random.default_rng(0)
    pipelines = [GRAMMAR.sample(rng) for _ in range(60)]
    unseen = [GRAMMAR.sample(rng) for _ in range(20)]
    acquisitions = []
    for seconds in (1.0, 100.0):
        surrogate = Surrogate(GRAMMAR, METRIC, random_state=0)
        for number, pipeline in enumerate(pipelines):
            loss = 0.3 + 0.01 * number  # the same scores for both: only the cost differs
            surrogate.tell(Trial(number, pipeline, "test", "ok", score=loss, duration=seconds))
        acquisitions.append(surrogate.acquisition(unseen))
    fast, slow = acquisitions
    assert np.any(fast > 0) and np.allclose(fast, 10 * slow)


def test_a_promoted_pipeline_leads_once_with_its_result_on_more_rows():
    ladder = Ladder(METRIC)
    booster, forest, other_forest = _one_each("lightgbm", "random_forest", "extra_trees")
    low = Fidelity(folds=1 / 3)
    results = [(booster, 0.20, low), (forest, 0.30, low), (other_forest, 0.25, low),
               (booster, 0.40, FULL)]  # fmt: skip
    for number, (pipeline, loss, fidelity) in enumerate(results):
        ladder.tell(Trial(number, pipeline, "t", "ok", score=loss, fidelity=fidelity))
    # Its full evaluation stands above every cheap look, whatever the scores.
    assert ladder.leaders(3) == [booster, other_forest, forest]
    assert ladder.leaders(2) == [booster, other_forest]


def test_evolution_keeps_a_promoted_pipeline_over_cheap_looks_that_score_better():
    # One repeat of a small dataset's CV can flatter every pipeline: the best one's full
    # evaluation scores worse than the cheap looks of poorer ones.
    evolution = SEARCHERS["evolution"](GRAMMAR, METRIC, population_size=3)
    best, *others = _one_each("logistic_regression", "lightgbm", "random_forest", "knn")
    results = [(best, 0.040, Fidelity(folds=1 / 3)), (best, 0.060, FULL)]
    results += [(pipeline, 0.050, Fidelity(folds=1 / 3)) for pipeline in others]
    for number, (pipeline, loss, fidelity) in enumerate(results):
        trial = Trial(number, pipeline, "t", "ok", score=loss, fit_time=1.0, fidelity=fidelity)
        evolution.tell(trial)
    # By raw scores it would be the first to go when the population overflows.
    assert len(evolution.population) == 3
    assert max(evolution.population, key=lambda m: m.standing).pipeline == best


def test_a_failure_leaves_the_standings_unchanged():
    ladder = Ladder(METRIC)
    first, second = _all_samples()[:2]
    for number, (pipeline, loss) in enumerate([(first, 0.5), (second, 0.3)]):
        ladder.tell(Trial(number, pipeline, "t", "ok", score=loss))
    ladder.tell(Trial(2, first, "t", "failed"))
    assert ladder.leaders(2) == [second, first]


def _all_samples() -> list:
    rng = np.random.default_rng(0)
    return list(dict.fromkeys(GRAMMAR.sample(rng) for _ in range(300)))


def _one_each(*families: str) -> list:
    samples = _all_samples()
    return [next(p for p in samples if p.classifier.name == name) for name in families]
