"""The pipeline grammar: every component works, and every sampled pipeline is valid."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedKFold, cross_val_predict, train_test_split

from automl.build_knowledge import load_reference
from automl.components import COMPONENTS, default_grammar
from automl.data import DataProfile, check_training_data
from automl.grammar import (
    NO_SCALING,
    Grammar,
    Hyperparameter,
    InvalidPipelineError,
    PipelineSpec,
    Step,
)
from tests.helpers import mixed_frame

MIXED_X, MIXED_Y = mixed_frame(120)
MIXED = check_training_data(MIXED_X, MIXED_Y)
GRAMMAR = default_grammar(MIXED.profile)


def _fit_and_predict(spec: PipelineSpec) -> np.ndarray:
    pipeline = GRAMMAR.build(spec, random_state=0).fit(MIXED.X, MIXED.y)
    return pipeline.predict_proba(MIXED.X.iloc[:7])


@pytest.mark.parametrize("classifier", GRAMMAR.options("classifier"))
def test_every_classifier_fits_with_its_defaults(classifier):
    proba = _fit_and_predict(GRAMMAR.default_pipeline(classifier))
    assert proba.shape == (7, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_lightgbm_default_beats_the_class_prior_where_many_classes_made_it_diverge(
    shared_datasets,
):
    X, y = load_reference(shared_datasets / "classification", "kddcup")
    X, _, y, _ = train_test_split(X, y, train_size=5000, stratify=y, random_state=0)
    data = check_training_data(X, y)
    grammar = default_grammar(data.profile)
    pipeline = grammar.build(grammar.default_pipeline("lightgbm"), random_state=0)
    folds = StratifiedKFold(3, shuffle=True, random_state=0)
    proba = cross_val_predict(pipeline, data.X, data.y_codes, cv=folds, method="predict_proba")
    prior = np.bincount(data.y_codes) / len(data.y_codes)
    assert log_loss(data.y_codes, proba) < 0.1 * log_loss(data.y_codes, np.tile(prior, (len(y), 1)))


@pytest.mark.parametrize(
    "slot,name",
    [
        (slot, name)
        for slot in ("encoding", "scaling", "features")
        for name in GRAMMAR.options(slot)
    ],
)
def test_every_preprocessor_fits_with_random_hyperparameters(slot, name):
    base = GRAMMAR.default_pipeline("logistic_regression")
    rng = np.random.default_rng(0)
    step = GRAMMAR.sample_step(slot, rng, name)
    if slot == "features":
        spec = PipelineSpec(base.classifier, base.scaling, base.imputation, base.encoding, (step,))
    else:
        spec = PipelineSpec(**{**base.__dict__, slot: step})
    assert _fit_and_predict(spec).shape == (7, 2)


def test_default_pipelines_cover_every_classifier_once():
    names = [spec.classifier.name for spec in GRAMMAR.default_pipelines()]
    assert names == list(GRAMMAR.options("classifier"))
    assert names[0] == "lightgbm"


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_sampled_pipelines_are_valid_and_round_trip_through_json(seed):
    spec = GRAMMAR.sample(np.random.default_rng(seed))
    assert GRAMMAR.problems(spec) == []
    assert GRAMMAR.canonical(spec) == spec
    again = PipelineSpec.from_json(json.dumps(json.loads(spec.to_json())))
    assert again == spec and again.key == spec.key
    vector = GRAMMAR.encode(spec)
    assert vector.shape == (GRAMMAR.n_dims,)
    assert np.all((vector >= -1) & (vector <= 1))


CANCER_X, CANCER_Y = load_breast_cancer(return_X_y=True, as_frame=True)
CANCER = check_training_data(CANCER_X, CANCER_Y)
CANCER_GRAMMAR = default_grammar(CANCER.profile)


LINEAR_SCALINGS = [
    n for n in CANCER_GRAMMAR.options("scaling") if CANCER_GRAMMAR.component(n).linear
]


def _scaling_changes(classifier: str) -> tuple[float, float]:
    """The largest and the mean change of predicted probabilities a linear scaling makes."""
    base = CANCER_GRAMMAR.default_pipeline(classifier)
    unscaled = base.__dict__ | {"scaling": CANCER_GRAMMAR.default_step("scaling", NO_SCALING)}
    expected = _cancer_proba(PipelineSpec(**unscaled))
    changes = []
    for name in LINEAR_SCALINGS:
        scaled = PipelineSpec(
            **base.__dict__ | {"scaling": CANCER_GRAMMAR.default_step("scaling", name)}
        )
        changes.append(np.abs(_cancer_proba(scaled) - expected))
    return max(c.max() for c in changes), max(c.mean() for c in changes)


def _cancer_proba(spec: PipelineSpec) -> np.ndarray:
    """Predictions on held-out rows: new values may fall between the training values."""
    pipeline = CANCER_GRAMMAR.build(spec, random_state=0)
    return pipeline.fit(CANCER.X[:400], CANCER.y[:400]).predict_proba(CANCER.X[400:])


@pytest.mark.parametrize(
    "classifier", ["hist_gradient_boosting", "extra_trees", "xgboost", "decision_tree"]
)
def test_scaling_before_a_tree_changes_nothing_so_it_is_one_pipeline(classifier):
    assert CANCER_GRAMMAR.component(classifier).scale_invariant
    base = CANCER_GRAMMAR.default_pipeline(classifier)
    assert base.scaling.name == NO_SCALING
    for name in CANCER_GRAMMAR.options("scaling"):
        scaled = PipelineSpec(
            **base.__dict__ | {"scaling": CANCER_GRAMMAR.default_step("scaling", name)}
        )
        assert CANCER_GRAMMAR.canonical(scaled) == (base if name in LINEAR_SCALINGS else scaled)
    assert set(LINEAR_SCALINGS) == {"none", "standard", "robust", "minmax"}
    assert _scaling_changes(classifier)[0] < 1e-9


@pytest.mark.parametrize("classifier", ["lightgbm", "random_forest"])
def test_scaling_before_lightgbm_or_a_forest_changes_little(classifier):
    # LightGBM gives values near zero a bin of their own, and a forest breaks ties
    # between equally good thresholds by float rounding.
    assert CANCER_GRAMMAR.component(classifier).scale_invariant
    assert _scaling_changes(classifier)[1] < 0.02


def test_scaling_before_neighbours_changes_them():
    # The control: scaling does matter where distances do.
    assert not CANCER_GRAMMAR.component("knn").scale_invariant
    assert _scaling_changes("knn")[1] > 0.05


def test_imputer_choices_are_one_pipeline_where_no_value_is_missing():
    rng = np.random.default_rng(0)
    assert not CANCER.profile.has_missing
    default = CANCER_GRAMMAR.default_step("imputation")
    sampled = [CANCER_GRAMMAR.sample(rng) for _ in range(30)]
    assert all(spec.imputation == default for spec in sampled)
    # Where values are missing, the imputer's choices are searched.
    assert MIXED.profile.has_missing
    assert len({GRAMMAR.sample(rng).imputation for _ in range(30)}) > 1


def test_scaling_stays_where_it_matters():
    rng = np.random.default_rng(0)
    logistic = GRAMMAR.default_pipeline("logistic_regression")
    assert logistic.scaling.name != NO_SCALING and GRAMMAR.canonical(logistic) == logistic
    tree = GRAMMAR.default_pipeline("lightgbm")
    scaled = PipelineSpec(
        **{**tree.__dict__, "scaling": GRAMMAR.default_step("scaling", "standard")}
    )
    with_pca = PipelineSpec(
        **{**scaled.__dict__, "features": (GRAMMAR.sample_step("features", rng, "pca"),)}
    )
    assert GRAMMAR.canonical(with_pca) == with_pca  # PCA sees the scaled columns


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_rows=st.integers(4, 40))
def test_bounds_that_depend_on_the_data_hold_on_tiny_data(seed, n_rows):
    profile = DataProfile(
        n_rows=n_rows, n_classes=2, numeric_columns=(0, 1, 2), categorical_columns=()
    )
    grammar = default_grammar(profile)
    spec = grammar.sample(np.random.default_rng(seed))
    assert grammar.problems(spec) == []
    assert spec.encoding is None
    for _, step in spec.steps():
        params = step.kwargs
        if step.name == "knn":
            assert params["n_neighbors"] <= max(1, n_rows * 4 // 5 // 2)
        if step.name == "nystroem":
            assert params["n_components"] <= max(1, n_rows * 4 // 5)


@given(unit=st.floats(0, 1))
def test_hyperparameter_units_invert(unit):
    for hp in (
        Hyperparameter.float("x", 1e-4, 10.0, 1.0, log=True),
        Hyperparameter.int("n", 2, 300, 10, log=True),
        Hyperparameter.choice("c", ("a", "b", "c"), "a"),
    ):
        value = hp.from_unit(unit)
        assert hp.contains(value)
        assert hp.from_unit(hp.to_unit(value)) == value


def test_conditional_hyperparameters_appear_only_when_active():
    rng = np.random.default_rng(3)
    steps = [GRAMMAR.sample_step("classifier", rng, "decision_tree") for _ in range(40)]
    for step in steps:
        assert ("max_depth" in step.kwargs) == step.kwargs["limit_depth"]
    assert {step.kwargs["limit_depth"] for step in steps} == {False, True}


def _with(spec: PipelineSpec, **changes) -> PipelineSpec:
    return PipelineSpec(**{**spec.__dict__, **changes})


@pytest.mark.parametrize(
    "change,reason",
    [
        ({"classifier": Step.of("svm_rbf")}, "'svm_rbf' is not a classifier component"),
        (
            {"classifier": Step.of("knn", {"n_neighbors": 10_000, "weights": "uniform", "p": 2})},
            "out of range",
        ),
        (
            {"classifier": Step.of("gaussian_nb", {"var_smoothing": 1e-9, "colour": "red"})},
            "unknown or inactive 'colour'",
        ),
        ({"classifier": Step.of("gaussian_nb")}, "missing 'var_smoothing'"),
        ({"encoding": None}, "lacks encoding"),
        (
            {"features": (Step.of("polynomial", {"interaction_only": True}),) * 2},
            "cannot come at position 1",
        ),
        (
            {"scaling": Step.of("pca", {"variance": 0.9, "whiten": False})},
            "not a scaling component",
        ),
    ],
)
def test_invalid_pipelines_are_rejected_with_the_reason(change, reason):
    spec = _with(GRAMMAR.default_pipeline("gaussian_nb"), **change)
    with pytest.raises(InvalidPipelineError, match=reason):
        GRAMMAR.build(spec)


def test_two_expanding_feature_steps_are_invalid():
    nystroem = GRAMMAR.default_step("features", "nystroem")
    polynomial = GRAMMAR.default_step("features", "polynomial")
    spec = _with(GRAMMAR.default_pipeline("gaussian_nb"), features=(nystroem, polynomial))
    assert any("polynomial" in problem for problem in GRAMMAR.problems(spec))


def test_booleans_are_not_numbers_to_a_hyperparameter():
    assert not Hyperparameter.int("n", 0, 5, 1).contains(True)
    assert not Hyperparameter.choice("flag", (False, True), False).contains(1)


def test_a_pipeline_from_another_format_version_is_refused():
    data = GRAMMAR.default_pipeline("lightgbm").to_dict()
    data["format"] = 99
    with pytest.raises(InvalidPipelineError, match="format 99"):
        PipelineSpec.from_dict(data)


def test_build_seeds_every_random_state():
    spec = GRAMMAR.default_pipeline("xgboost")
    params = GRAMMAR.build(spec, random_state=123).get_params()
    seeds = {k: v for k, v in params.items() if k.endswith("random_state")}
    assert seeds and set(seeds.values()) == {123}


def test_a_grammar_needs_a_classifier():
    profile = DataProfile(n_rows=10, n_classes=2, numeric_columns=(0,), categorical_columns=())
    scalers_only = [c for c in COMPONENTS if c.slot != "classifier"]
    with pytest.raises(ValueError, match="no component for the 'classifier' slot"):
        Grammar(scalers_only, profile)
