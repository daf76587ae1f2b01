"""The local Bayesian refinement, on a synthetic objective of one hyperparameter."""

from __future__ import annotations

import dataclasses

import pytest

from automl.evaluation import FULL, Fidelity
from automl.grammar import Step
from automl.history import Trial
from automl.search.refine import MIN_RESULTS, Refinement
from tests.test_searchers import GRAMMAR, METRIC

C = next(hp for hp in GRAMMAR.space("logistic_regression") if hp.name == "C")
#: Where in C's unit space (a log scale) the synthetic loss is lowest.
BEST_UNIT = 0.75


def logistic(unit: float, class_weight=None):
    base = GRAMMAR.default_pipeline("logistic_regression")
    step = Step.of("logistic_regression", {"C": C.from_unit(unit), "class_weight": class_weight})
    return dataclasses.replace(base, classifier=step)


def loss(pipeline) -> float:
    return 0.1 + (C.to_unit(pipeline.classifier.kwargs["C"]) - BEST_UNIT) ** 2


def told(refinement: Refinement, units, fidelity=FULL, class_weight=None) -> list:
    pipelines = [logistic(unit, class_weight) for unit in units]
    for number, pipeline in enumerate(pipelines):
        trial = Trial(number, pipeline, "t", "ok", score=loss(pipeline), fidelity=fidelity)
        refinement.tell(trial)
    return pipelines


@pytest.mark.parametrize("random_state", [0, 1, 2])
def test_the_process_proposes_between_results_where_the_loss_is_lowest(random_state):
    refinement = Refinement(GRAMMAR, METRIC, random_state=random_state)
    # The leader (0.95) is off the optimum; steps from it rarely land near 0.75.
    # (The one-hot encoder's max_categories, never varied, stays as it is.)
    pipelines = told(refinement, [0.05, 0.3, 0.5, 0.95, 1.0])
    proposal = refinement.propose(pipelines[3], lambda pipeline: True)
    assert abs(C.to_unit(proposal.classifier.kwargs["C"]) - BEST_UNIT) < 0.08


def test_it_keeps_the_leaders_components_and_categorical_values():
    refinement = Refinement(GRAMMAR, METRIC)
    (leader,) = told(refinement, [0.5], class_weight="balanced")
    proposal = refinement.propose(leader, lambda pipeline: True)
    assert proposal != leader
    assert [step.name for _, step in proposal.steps()] == [s.name for _, s in leader.steps()]
    assert proposal.classifier.kwargs["class_weight"] == "balanced"


def test_results_of_another_shape_or_fidelity_do_not_count():
    refinement = Refinement(GRAMMAR, METRIC)
    told(refinement, [0.1, 0.3, 0.5, 0.7], class_weight="balanced")
    told(refinement, [0.15, 0.35, 0.55, 0.65], fidelity=Fidelity(folds=1 / 3))
    (leader,) = told(refinement, [0.9])
    # The leader's shape has four results at the lower fidelity and one (the leader) at
    # the full one, where the other shape's four do not count: fewer than the GP needs at
    # either, so a proposal is a step from the leader (0.9), not the process's choice
    # near 0.75.
    assert MIN_RESULTS == 5
    proposals = [refinement.propose(leader, lambda pipeline: True) for _ in range(20)]
    near_leader = [abs(C.to_unit(p.classifier.kwargs["C"]) - 0.9) < 0.05 for p in proposals]
    assert sum(near_leader) >= 4


def test_it_proposes_only_what_is_new():
    refinement = Refinement(GRAMMAR, METRIC)
    pipelines = told(refinement, [0.05, 0.3, 0.5, 0.95, 1.0])
    seen = {p.key for p in pipelines}
    first = refinement.propose(pipelines[3], lambda pipeline: pipeline.key not in seen)
    seen.add(first.key)
    second = refinement.propose(pipelines[3], lambda pipeline: pipeline.key not in seen)
    assert first.key not in {p.key for p in pipelines} and second != first
