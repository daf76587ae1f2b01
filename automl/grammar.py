"""The pipeline grammar: typed slots, hyperparameters, and pipelines as values.

A pipeline is an immutable, JSON-serialisable :class:`PipelineSpec` that fills
the slots in their fixed order::

    imputation -> encoding -> scaling -> features (0 to 2 steps) -> classifier

Imputation applies to the numeric columns and encoding to the categorical ones,
each present exactly when the data has such columns. A :class:`Grammar` binds a
set of :class:`Component` declarations to one dataset's :class:`DataProfile`, so
that bounds that depend on the data (a neighbour count below the number of rows,
say) are part of the space: anything the grammar samples is valid by construction,
and :meth:`Grammar.validate` says why a pipeline from elsewhere is not.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline

from automl.data import DataProfile

FORMAT_VERSION = 1
SLOTS = ("imputation", "encoding", "scaling", "features", "classifier")
OPTIONAL_SLOTS = ("imputation", "encoding")
MAX_FEATURE_STEPS = 2
#: The scaling component that leaves the columns as they are.
NO_SCALING = "none"
#: How often a sampled pipeline has 0, 1 or 2 feature steps.
FEATURE_STEP_ODDS = (0.5, 0.35, 0.15)
_SIGNIFICANT_DIGITS = 4


class InvalidPipelineError(ValueError):
    """A pipeline that the grammar cannot build, with every reason why."""


@dataclass(frozen=True)
class Hyperparameter:
    """One hyperparameter: numeric bounds (optionally on a log scale) or choices.

    ``active_if=("name", (values...))`` makes it exist only when the sibling
    hyperparameter ``name`` takes one of ``values``.
    """

    name: str
    default: Any
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] = ()
    log: bool = False
    integer: bool = False
    active_if: tuple[str, tuple[Any, ...]] | None = None

    @classmethod
    def int(cls, name: str, low: int, high: int, default: int, **kwargs) -> Hyperparameter:
        """An integer in ``[low, high]``; ``high`` is raised to ``low`` on tiny data."""
        high = max(low, high)
        return cls(name, min(max(default, low), high), low, high, integer=True, **kwargs)

    @classmethod
    def float(cls, name: str, low: float, high: float, default: float, **kwargs) -> Hyperparameter:
        """A real number in ``[low, high]``."""
        return cls(name, _round(min(max(default, low), high)), low, high, **kwargs)

    @classmethod
    def choice(cls, name: str, choices: Sequence[Any], default: Any, **kwargs) -> Hyperparameter:
        """One of ``choices``."""
        return cls(name, default, choices=tuple(choices), **kwargs)

    @property
    def is_categorical(self) -> bool:
        return bool(self.choices)

    def is_active(self, params: Mapping[str, Any]) -> bool:
        if self.active_if is None:
            return True
        parent, values = self.active_if
        return params.get(parent) in values

    def contains(self, value: Any) -> bool:
        if self.is_categorical:
            return any(_same(value, choice) for choice in self.choices)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.integer and not float(value).is_integer():
            return False
        return self.low <= value <= self.high

    def nearest(self, value: Any) -> Any:
        """The valid value closest to ``value``: clipped into bounds, or the default."""
        if self.contains(value):
            return value
        if self.is_categorical or isinstance(value, bool) or not isinstance(value, (int, float)):
            return self.default
        value = min(max(value, self.low), self.high)
        return round(value) if self.integer else _round(value)

    def sample(self, rng: np.random.Generator) -> Any:
        if self.is_categorical:
            return self.choices[rng.integers(len(self.choices))]
        return self.from_unit(rng.random())

    def to_unit(self, value: Any) -> float:
        """Position of ``value`` in ``[0, 1]``: the numeric encoding of a value."""
        if self.is_categorical:
            index = next(i for i, c in enumerate(self.choices) if _same(value, c))
            return index / max(1, len(self.choices) - 1)
        low, high, value = self._scaled(self.low), self._scaled(self.high), self._scaled(value)
        return 0.0 if high == low else (value - low) / (high - low)

    def from_unit(self, unit: float) -> Any:
        """The value at position ``unit`` in ``[0, 1]``: the inverse of :meth:`to_unit`."""
        unit = min(max(unit, 0.0), 1.0)
        if self.is_categorical:
            return self.choices[round(unit * (len(self.choices) - 1))]
        low, high = self._scaled(self.low), self._scaled(self.high)
        value = low + unit * (high - low)
        value = math.exp(value) if self.log else value
        if self.integer:
            return int(min(max(round(value), self.low), self.high))
        return _round(min(max(value, self.low), self.high))

    def _scaled(self, value: float) -> float:
        return math.log(value) if self.log else float(value)


def _round(value: float) -> float:
    # A few significant digits keep JSON short and make keys stable across round trips.
    return float(f"{value:.{_SIGNIFICANT_DIGITS}g}")


def _same(a: Any, b: Any) -> bool:
    # True == 1 in Python; a choice of True must not accept 1.
    return (type(a) is type(b) and a == b) or (a is None and b is None)


def _no_hyperparameters(profile: DataProfile) -> tuple[Hyperparameter, ...]:
    return ()


def _always(profile: DataProfile) -> bool:
    return True


def _never(profile: DataProfile) -> bool:
    return False


@dataclass(frozen=True)
class Component:
    """A building block for one slot.

    ``make(params, profile)`` returns the unfitted scikit-learn object,
    ``space(profile)`` its hyperparameters for this data, and ``applies(profile)``
    whether it makes sense for this data at all.
    """

    name: str
    slot: str
    make: Callable[[dict[str, Any], DataProfile], Any]
    space: Callable[[DataProfile], Sequence[Hyperparameter]] = _no_hyperparameters
    applies: Callable[[DataProfile], bool] = _always
    #: Feature steps that multiply the number of columns: at most one a pipeline.
    expands: bool = False
    #: Feature steps whose bounds refer to the encoded columns: only first.
    first_only: bool = False
    #: Classifiers that a linear rescaling of a column leaves unchanged (trees): a
    #: linear scaling right before them does nothing, so one choice stands for all.
    scale_invariant: bool = False
    #: Scalings that rescale each column linearly (the identity too).
    linear: bool = False
    #: Data on which the hyperparameters change nothing (an imputer where no value is
    #: missing): the defaults stand for every setting.
    inert: Callable[[DataProfile], bool] = _never


@dataclass(frozen=True)
class Step:
    """A component and its hyperparameter values, sorted by name."""

    name: str
    params: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, name: str, params: Mapping[str, Any] | None = None) -> Step:
        return cls(name, tuple(sorted((params or {}).items())))

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.params)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "params": self.kwargs}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Step:
        return cls.of(data["name"], data.get("params", {}))


@dataclass(frozen=True)
class PipelineSpec:
    """A whole pipeline as a value: hashable, comparable and JSON-serialisable."""

    classifier: Step
    scaling: Step
    imputation: Step | None = None
    encoding: Step | None = None
    features: tuple[Step, ...] = field(default=())

    def steps(self) -> Iterator[tuple[str, Step]]:
        """The ``(slot, step)`` pairs present, in pipeline order."""
        for slot in SLOTS:
            value = getattr(self, slot)
            for step in value if slot == "features" else (value,):
                if step is not None:
                    yield slot, step

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"format": FORMAT_VERSION}
        for slot in SLOTS:
            value = getattr(self, slot)
            if slot == "features":
                data[slot] = [step.to_dict() for step in value]
            else:
                data[slot] = None if value is None else value.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PipelineSpec:
        if data.get("format") != FORMAT_VERSION:
            raise InvalidPipelineError(
                f"Pipeline format {data.get('format')!r} is not supported; this version "
                f"of automl reads format {FORMAT_VERSION}."
            )
        missing = [slot for slot in ("classifier", "scaling") if not data.get(slot)]
        if missing:
            raise InvalidPipelineError(f"Pipeline lacks the required slot(s) {missing}.")
        optional = {slot: data.get(slot) for slot in OPTIONAL_SLOTS}
        return cls(
            classifier=Step.from_dict(data["classifier"]),
            scaling=Step.from_dict(data["scaling"]),
            features=tuple(Step.from_dict(step) for step in data.get("features") or ()),
            **{slot: Step.from_dict(value) if value else None for slot, value in optional.items()},
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> PipelineSpec:
        return cls.from_dict(json.loads(text))

    @functools.cached_property
    def key(self) -> str:
        """A stable identifier: equal pipelines have equal keys in any process."""
        return hashlib.sha1(self.to_json().encode()).hexdigest()[:16]

    def describe(self) -> str:
        """A short, readable summary such as ``median > onehot > standard > lightgbm``."""
        return " > ".join(step.name for _, step in self.steps())


class Grammar:
    """The space of pipelines for one dataset.

    Parameters
    ----------
    components : iterable of Component
        The building blocks; those whose ``applies`` rejects the data are left out.
        Classifiers keep their order: it is the order of :meth:`default_pipelines`.
    profile : DataProfile
        The data the pipelines are for.
    """

    def __init__(self, components: Iterable[Component], profile: DataProfile):
        self.profile = profile
        self._components = {c.name: c for c in components if c.applies(profile)}
        self._spaces = {name: tuple(c.space(profile)) for name, c in self._components.items()}
        self._options = {
            slot: tuple(n for n, c in self._components.items() if c.slot == slot) for slot in SLOTS
        }
        if profile.numeric_columns and not self._options["imputation"]:
            raise ValueError("The grammar has no imputation component for the numeric columns.")
        if profile.categorical_columns and not self._options["encoding"]:
            raise ValueError("The grammar has no encoding component for the categorical columns.")
        for slot in ("scaling", "classifier"):
            if not self._options[slot]:
                raise ValueError(f"The grammar has no component for the {slot!r} slot.")

    def options(self, slot: str) -> tuple[str, ...]:
        """The component names that can fill ``slot``."""
        return self._options[slot]

    def component(self, name: str) -> Component:
        return self._components[name]

    def space(self, name: str) -> tuple[Hyperparameter, ...]:
        """The hyperparameters of component ``name`` for this data."""
        return self._spaces[name]

    # -- making pipelines ------------------------------------------------------
    def default_step(self, slot: str, name: str | None = None) -> Step | None:
        """Component ``name`` (the slot's first by default) with its defaults."""
        if not self._has(slot):
            return None
        name = name or self._options[slot][0]
        space = self.space(name)
        return Step.of(name, _active({hp.name: hp.default for hp in space}, space))

    def default_pipeline(self, classifier: str) -> PipelineSpec:
        """Default preprocessing and ``classifier`` with its default hyperparameters."""
        return self.canonical(
            PipelineSpec(
                classifier=self.default_step("classifier", classifier),
                scaling=self.default_step("scaling"),
                imputation=self.default_step("imputation"),
                encoding=self.default_step("encoding"),
            )
        )

    def default_pipelines(self) -> list[PipelineSpec]:
        """One default pipeline for each classifier, in declaration order."""
        return [self.default_pipeline(name) for name in self._options["classifier"]]

    def sample_step(self, slot: str, rng: np.random.Generator, name: str | None = None) -> Step:
        """A random component of ``slot`` (or ``name``) with random hyperparameters."""
        options = self._options[slot]
        name = name or options[rng.integers(len(options))]
        space = self.space(name)
        params = {hp.name: hp.sample(rng) for hp in space}
        return Step.of(name, _active(params, space))

    def complete_step(self, name: str, params: Mapping[str, Any]) -> Step:
        """Component ``name`` with ``params`` made valid for this data.

        Values are moved to the nearest valid one, missing hyperparameters take
        their default and those that conditions leave inactive are dropped: what a
        changed condition, a crossover or data of another size needs.
        """
        space = self.space(name)
        fixed = {hp.name: hp.nearest(params.get(hp.name, hp.default)) for hp in space}
        return Step.of(name, _active(fixed, space))

    def sample_features(self, rng: np.random.Generator) -> tuple[Step, ...]:
        """Zero to two distinct feature steps that obey the slot's rules."""
        count = rng.choice(len(FEATURE_STEP_ODDS), p=FEATURE_STEP_ODDS)
        steps: list[Step] = []
        for _ in range(count):
            allowed = self.feature_options(steps)
            if not allowed:
                break
            steps.append(self.sample_step("features", rng, allowed[rng.integers(len(allowed))]))
        return tuple(steps)

    def sample(self, rng: np.random.Generator) -> PipelineSpec:
        """A random valid pipeline: every slot's component drawn uniformly."""
        optional = {
            slot: self.sample_step(slot, rng) if self._has(slot) else None
            for slot in OPTIONAL_SLOTS
        }
        return self.canonical(
            PipelineSpec(
                classifier=self.sample_step("classifier", rng),
                scaling=self.sample_step("scaling", rng),
                features=self.sample_features(rng),
                **optional,
            )
        )

    def adapt(self, spec: PipelineSpec) -> PipelineSpec | None:
        """The pipeline nearest to ``spec`` that is valid for this data, or None.

        For a pipeline found on other data: preprocessing slots this data needs
        are filled with defaults and those it lacks are dropped, hyperparameters
        move into this data's bounds, feature steps that no longer apply go. None
        when its classifier is unavailable here: that is no longer the same pipeline.
        """
        if spec.classifier.name not in self._options["classifier"]:
            return None
        features: list[Step] = []
        for step in spec.features:
            if self._may_follow(features, step.name):
                features.append(self.complete_step(step.name, step.kwargs))
        adapted = PipelineSpec(
            classifier=self.complete_step(spec.classifier.name, spec.classifier.kwargs),
            features=tuple(features),
            **{
                slot: self._adapt_step(slot, getattr(spec, slot))
                for slot in ("scaling", *OPTIONAL_SLOTS)
            },
        )
        return None if self.problems(adapted) else self.canonical(adapted)

    def canonical(self, spec: PipelineSpec) -> PipelineSpec:
        """The one pipeline that stands for all those computing the same as ``spec``.

        Steps whose hyperparameters change nothing on this data take their defaults.
        A scale-invariant classifier right after a linear scaling (no feature step
        between) predicts the same without it: exactly for most trees, up to ties
        for a random forest and to how LightGBM bins values near zero (small changes,
        no systematic ones). Such pipelines differ only in cost, so the search
        evaluates one instead of each. A quantile scaling stays: new values between
        the training values, and extra trees' random thresholds, see its curve.
        """
        slots = {
            slot: self.default_step(slot, step.name)
            for slot, step in spec.steps()
            if slot != "features" and self._components[step.name].inert(self.profile)
        }
        if (
            not spec.features
            and self._components[spec.classifier.name].scale_invariant
            and self._components[spec.scaling.name].linear
            and NO_SCALING in self.options("scaling")
        ):
            slots["scaling"] = self.default_step("scaling", NO_SCALING)
        return dataclasses.replace(spec, **slots) if slots else spec

    def _adapt_step(self, slot: str, step: Step | None) -> Step | None:
        if step is None or step.name not in self._options[slot]:
            return self.default_step(slot)
        return self.complete_step(step.name, step.kwargs)

    @property
    def fingerprint(self) -> str:
        """Identifies the components and their hyperparameters (names, kinds, choices).

        Bounds are left out: they follow the data. Pipelines stored under another
        fingerprint may no longer parse, or may mean something else.
        """
        description = [
            (name, component.slot, [_signature(hp) for hp in self._spaces[name]])
            for name, component in self._components.items()
        ]
        return hashlib.sha1(json.dumps(description, default=str).encode()).hexdigest()[:16]

    # -- checking pipelines ----------------------------------------------------
    def problems(self, spec: PipelineSpec) -> list[str]:
        """Every reason why ``spec`` is not a valid pipeline here (empty if valid)."""
        problems = []
        for slot in OPTIONAL_SLOTS:
            present, needed = getattr(spec, slot) is not None, self._has(slot)
            if present != needed:
                state = "has" if present else "lacks"
                problems.append(f"the pipeline {state} {slot}, but the data says otherwise")
        if len(spec.features) > MAX_FEATURE_STEPS:
            problems.append(f"more than {MAX_FEATURE_STEPS} feature steps")
        for position, step in enumerate(spec.features):
            if not self._may_follow(list(spec.features[:position]), step.name):
                problems.append(f"feature step {step.name!r} cannot come at position {position}")
        for slot, step in spec.steps():
            problems.extend(self._step_problems(slot, step))
        return problems

    def validate(self, spec: PipelineSpec) -> PipelineSpec:
        """Return ``spec`` if it is valid; raise :class:`InvalidPipelineError` if not."""
        problems = self.problems(spec)
        if problems:
            raise InvalidPipelineError(
                f"Invalid pipeline {spec.describe()}: " + "; ".join(problems)
            )
        return spec

    def _step_problems(self, slot: str, step: Step) -> list[str]:
        if step.name not in self._options[slot]:
            return [f"{step.name!r} is not a {slot} component for this data"]
        space = self.space(step.name)
        params = step.kwargs
        expected = _active(params, space)
        problems = [
            f"{step.name}: unknown or inactive {name!r}" for name in params.keys() - expected.keys()
        ]
        for hp in space:
            if not hp.is_active(params):
                continue
            if hp.name not in params:
                problems.append(f"{step.name}: missing {hp.name!r}")
            elif not hp.contains(params[hp.name]):
                problems.append(f"{step.name}: {hp.name}={params[hp.name]!r} is out of range")
        return problems

    def feature_options(self, before: Sequence[Step]) -> list[str]:
        """The feature components that may follow the feature steps ``before``."""
        return [name for name in self._options["features"] if self._may_follow(before, name)]

    def _has(self, slot: str) -> bool:
        return bool(self._options[slot])

    def _may_follow(self, before: Sequence[Step], name: str) -> bool:
        component = self._components.get(name)
        if component is None or component.slot != "features" or len(before) >= MAX_FEATURE_STEPS:
            return False
        if any(step.name == name for step in before):
            return False
        if component.first_only and before:
            return False
        return not (component.expands and any(self._components[s.name].expands for s in before))

    # -- using pipelines -------------------------------------------------------
    def build(self, spec: PipelineSpec, random_state: int | None = None) -> Pipeline:
        """The unfitted scikit-learn Pipeline for a valid ``spec``.

        Every ``random_state`` inside is set to ``random_state``, so that a
        pipeline's result depends only on the seed and the data.
        """
        self.validate(spec)
        columns = []
        if spec.imputation is not None:
            columns.append(
                ("numeric", self._make(spec.imputation), list(self.profile.numeric_columns))
            )
        if spec.encoding is not None:
            columns.append(
                ("categorical", self._make(spec.encoding), list(self.profile.categorical_columns))
            )
        steps = [("columns", ColumnTransformer(columns, sparse_threshold=0.0))]
        steps.append(("scaling", self._make(spec.scaling)))
        steps.extend((step.name, self._make(step)) for step in spec.features)
        steps.append(("classifier", self._make(spec.classifier)))
        pipeline = Pipeline(steps)
        # Only unset seeds: a string there is a library's deprecation sentinel.
        seeds = {
            name: random_state
            for name, value in pipeline.get_params().items()
            if name.endswith("random_state") and (value is None or isinstance(value, int))
        }
        return pipeline.set_params(**seeds)

    def _make(self, step: Step) -> Any:
        return self._components[step.name].make(step.kwargs, self.profile)

    @property
    def n_dims(self) -> int:
        """Length of :meth:`encode`'s vectors."""
        n_choices = sum(len(self._options[slot]) for slot in SLOTS)
        return n_choices + sum(len(space) for space in self._spaces.values())

    def encode(self, spec: PipelineSpec) -> np.ndarray:
        """A fixed-length numeric vector for models of the search space.

        One indicator per component (chosen or not), then each component's
        hyperparameters in ``[0, 1]``, or -1 where the component or the
        hyperparameter is absent.
        """
        chosen = {step.name: step.kwargs for _, step in spec.steps()}
        indicators = [
            1.0 if name in chosen else 0.0 for slot in SLOTS for name in self._options[slot]
        ]
        values = []
        for name, space in self._spaces.items():
            params = chosen.get(name)
            for hp in space:
                active = params is not None and hp.is_active(params)
                values.append(hp.to_unit(params[hp.name]) if active else -1.0)
        return np.asarray(indicators + values, dtype=float)


def _signature(hp: Hyperparameter) -> tuple:
    return hp.name, hp.integer, hp.log, hp.choices, hp.active_if


def _active(params: Mapping[str, Any], space: Sequence[Hyperparameter]) -> dict[str, Any]:
    """``params`` restricted to the hyperparameters that their conditions leave active."""
    return {hp.name: params[hp.name] for hp in space if hp.name in params and hp.is_active(params)}
