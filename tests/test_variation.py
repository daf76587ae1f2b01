"""Mutation and crossover: every child is a valid pipeline that round-trips through JSON."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from automl.components import default_grammar
from automl.data import DataProfile, check_training_data
from automl.grammar import PipelineSpec
from automl.search.variation import crossover, mutate
from tests.helpers import mixed_frame

MIXED = default_grammar(check_training_data(*mixed_frame(120)).profile)
TINY = default_grammar(
    DataProfile(n_rows=9, n_classes=3, numeric_columns=(0, 1), categorical_columns=())
)


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), tiny=st.booleans())
def test_mutants_and_children_are_valid_and_round_trip(seed, tiny):
    grammar = TINY if tiny else MIXED
    rng = np.random.default_rng(seed)
    first, second = grammar.sample(rng), grammar.sample(rng)
    for child in (mutate(first, grammar, rng), crossover(first, second, grammar, rng)):
        assert grammar.problems(child) == []
        assert grammar.canonical(child) == child
        assert PipelineSpec.from_json(child.to_json()) == child


def test_a_mutation_changes_the_pipeline_a_little():
    rng = np.random.default_rng(0)
    parent = MIXED.default_pipeline("lightgbm")
    children = [mutate(parent, MIXED, rng) for _ in range(200)]
    assert all(child != parent for child in children)
    same_model = [c for c in children if c.classifier.name == "lightgbm"]
    assert len(same_model) > 120  # most steps tune, few replace the model
    changed = [
        sum(c.classifier.kwargs[k] != v for k, v in parent.classifier.params) for c in same_model
    ]
    assert max(changed) <= 1


def test_crossover_of_one_classifier_mixes_its_hyperparameters():
    rng = np.random.default_rng(1)
    first = MIXED.sample_step("classifier", rng, "lightgbm")
    second = MIXED.sample_step("classifier", rng, "lightgbm")
    base = MIXED.default_pipeline("lightgbm")
    a = PipelineSpec(**{**base.__dict__, "classifier": first})
    b = PipelineSpec(**{**base.__dict__, "classifier": second})
    children = [crossover(a, b, MIXED, rng) for _ in range(50)]
    mixed = [c for c in children if c.classifier not in (first, second)]
    assert mixed
    for child in mixed:
        for key, value in child.classifier.params:
            assert value in (first.kwargs[key], second.kwargs[key])
