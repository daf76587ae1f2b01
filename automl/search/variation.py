"""Variation operators on pipelines: mutation and crossover that keep them valid.

Every operator returns a pipeline the grammar accepts, in its canonical form, so a
search never spends an evaluation on one that cannot be built, nor on a copy under
another name. A hyperparameter moves by a Gaussian step in its unit space (a log
scale where it is declared), as in evolution strategies.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from automl.grammar import MAX_FEATURE_STEPS, Grammar, PipelineSpec, Step

#: Standard deviation of a hyperparameter's step, in its [0, 1] unit space.
STEP_SCALE = 0.15
#: Attempts at a valid, different result before an operator gives up.
_ATTEMPTS = 20


def mutate(spec: PipelineSpec, grammar: Grammar, rng: np.random.Generator) -> PipelineSpec:
    """A valid pipeline one random change away from ``spec`` (``spec`` if none is found).

    The changes: a hyperparameter steps, a component gives way to another of its
    slot, a feature step is inserted or removed.
    """
    # Small steps twice as often as the others: most progress comes from tuning.
    operators: list[Callable] = [_step_hyperparameter, _step_hyperparameter, _replace_component]
    if len(spec.features) < MAX_FEATURE_STEPS:
        operators.append(_insert_feature)
    if spec.features:
        operators.append(_remove_feature)
    # A change that computes the same (a scaler before a tree) is no change.
    same = grammar.canonical(spec)
    for _ in range(_ATTEMPTS):
        operator = operators[rng.integers(len(operators))]
        child = operator(spec, grammar, rng)
        if child is not None and not grammar.problems(child):
            child = grammar.canonical(child)
            if child != same:
                return child
    return spec


def crossover(
    first: PipelineSpec, second: PipelineSpec, grammar: Grammar, rng: np.random.Generator
) -> PipelineSpec:
    """A child that takes each slot from either parent.

    Parents with the same classifier also mix its hyperparameters, one by one.
    """
    for _ in range(_ATTEMPTS):
        slots = {
            field.name: getattr(first if rng.random() < 0.5 else second, field.name)
            for field in dataclasses.fields(PipelineSpec)
        }
        if first.classifier.name == second.classifier.name:
            slots["classifier"] = _mix(first.classifier, second.classifier, grammar, rng)
        child = PipelineSpec(**slots)
        if not grammar.problems(child):
            return grammar.canonical(child)
    return first


def _mix(first: Step, second: Step, grammar: Grammar, rng: np.random.Generator) -> Step:
    theirs = second.kwargs
    params = {k: theirs[k] if k in theirs and rng.random() < 0.5 else v for k, v in first.params}
    return grammar.complete_step(first.name, {**theirs, **params})


def _step_hyperparameter(spec: PipelineSpec, grammar: Grammar, rng) -> PipelineSpec | None:
    tunable = [(slot, i, step) for slot, i, step in positions(spec) if step.params]
    if not tunable:
        return None
    # The classifier's hyperparameters matter most: it gets half of the steps.
    weights = np.array(
        [max(1, len(tunable) - 1) if slot == "classifier" else 1 for slot, _, _ in tunable], float
    )
    slot, index, step = tunable[rng.choice(len(tunable), p=weights / weights.sum())]
    params = step.kwargs
    name = list(params)[rng.integers(len(params))]
    hp = next(h for h in grammar.space(step.name) if h.name == name)
    if hp.is_categorical:
        others = [c for c in hp.choices if c != params[hp.name]]
        params[hp.name] = others[rng.integers(len(others))] if others else params[hp.name]
    else:
        params[hp.name] = hp.from_unit(hp.to_unit(params[hp.name]) + rng.normal(0, STEP_SCALE))
    return with_step(spec, slot, index, grammar.complete_step(step.name, params))


def _replace_component(spec: PipelineSpec, grammar: Grammar, rng) -> PipelineSpec | None:
    choices = [
        (slot, i, step) for slot, i, step in positions(spec) if len(grammar.options(slot)) > 1
    ]
    if not choices:
        return None
    slot, index, step = choices[rng.integers(len(choices))]
    others = [name for name in grammar.options(slot) if name != step.name]
    name = others[rng.integers(len(others))]
    return with_step(spec, slot, index, grammar.sample_step(slot, rng, name))


def _insert_feature(spec: PipelineSpec, grammar: Grammar, rng) -> PipelineSpec | None:
    position = int(rng.integers(len(spec.features) + 1))
    allowed = grammar.feature_options(spec.features[:position])
    if not allowed:
        return None
    step = grammar.sample_step("features", rng, allowed[rng.integers(len(allowed))])
    features = (*spec.features[:position], step, *spec.features[position:])
    return dataclasses.replace(spec, features=features)


def _remove_feature(spec: PipelineSpec, grammar: Grammar, rng) -> PipelineSpec:
    position = int(rng.integers(len(spec.features)))
    features = spec.features[:position] + spec.features[position + 1 :]
    return dataclasses.replace(spec, features=features)


def positions(spec: PipelineSpec) -> list[tuple[str, int, Step]]:
    """Every ``(slot, index, step)``; the index counts within the features slot."""
    found, feature_index = [], 0
    for slot, step in spec.steps():
        index = feature_index if slot == "features" else 0
        feature_index += slot == "features"
        found.append((slot, index, step))
    return found


def with_step(spec: PipelineSpec, slot: str, index: int, step: Step) -> PipelineSpec:
    """``spec`` with ``step`` at ``(slot, index)`` (see :func:`positions`)."""
    if slot != "features":
        return dataclasses.replace(spec, **{slot: step})
    features = (*spec.features[:index], step, *spec.features[index + 1 :])
    return dataclasses.replace(spec, features=features)
