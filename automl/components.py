"""Every building block of the pipelines, declared in one place.

Each component names its slot, builds a plain scikit-learn, LightGBM or XGBoost
object (so that an exported pipeline needs nothing else) and declares its
hyperparameters with a good default and bounds that may depend on the data.
Models use one thread: the search runs one evaluation per core instead.
"""

from __future__ import annotations

from typing import Any

from lightgbm import LGBMClassifier
from sklearn.cluster import FeatureAgglomeration
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.ensemble import (
    ExtraTreesClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
    VotingClassifier,
)
from sklearn.feature_selection import SelectPercentile, VarianceThreshold, f_classif
from sklearn.impute import SimpleImputer
from sklearn.kernel_approximation import Nystroem
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.model_selection import StratifiedKFold
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import (
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    PolynomialFeatures,
    QuantileTransformer,
    RobustScaler,
    StandardScaler,
    TargetEncoder,
)
from sklearn.tree import DecisionTreeClassifier
from xgboost import XGBClassifier

from automl.data import DataProfile
from automl.grammar import NO_SCALING, Component, Grammar, PipelineSpec
from automl.grammar import Hyperparameter as HP

#: One-hot columns beyond this many categories are folded into "infrequent".
_ONEHOT_CAP = 16
#: PolynomialFeatures only where its output stays a few hundred columns wide.
_POLYNOMIAL_MAX_INPUTS = 30


def encoded_width(profile: DataProfile) -> int:
    """Roughly how many columns the encoded data has."""
    return len(profile.numeric_columns) + sum(min(c, _ONEHOT_CAP) for c in profile.cardinalities)


def _train_rows(profile: DataProfile) -> int:
    # Cross-validation trains on 4/5 of the rows; bounds must hold in every fold.
    return max(1, profile.n_rows * 4 // 5)


# -- imputation and encoding -------------------------------------------------
def _imputer(params: dict[str, Any], profile: DataProfile) -> SimpleImputer:
    return SimpleImputer(strategy=params["strategy"], add_indicator=params["add_indicator"])


def _imputer_space(profile: DataProfile) -> tuple[HP, ...]:
    return (
        HP.choice("strategy", ("median", "mean", "most_frequent"), "median"),
        HP.choice("add_indicator", (False, True), False),
    )


def _onehot_encoder(max_categories: int) -> OneHotEncoder:
    return OneHotEncoder(
        handle_unknown="infrequent_if_exist", max_categories=max_categories, sparse_output=False
    )


def _onehot(params: dict[str, Any], profile: DataProfile) -> OneHotEncoder:
    return _onehot_encoder(params["max_categories"])


def _onehot_space(profile: DataProfile) -> tuple[HP, ...]:
    return (HP.int("max_categories", 2, 64, _ONEHOT_CAP, log=True),)


def _ordinal(params: dict[str, Any], profile: DataProfile) -> OrdinalEncoder:
    return OrdinalEncoder(
        handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-2
    )


def _target_encoder() -> TargetEncoder:
    # An explicit splitter makes the cross fitting inside the encoder deterministic.
    return TargetEncoder(cv=StratifiedKFold(5, shuffle=True, random_state=0))


def _target(params: dict[str, Any], profile: DataProfile) -> TargetEncoder:
    return _target_encoder()


def _by_cardinality(params: dict[str, Any], profile: DataProfile) -> ColumnTransformer:
    """One-hot for the columns with few categories, target encoding for the rest."""
    few, many = [], []
    for position, (column, n) in enumerate(
        zip(profile.categorical_columns, profile.cardinalities, strict=True)
    ):
        # Inside the categorical branch, unnamed columns are numbered afresh from 0.
        identifier = column if isinstance(column, str) else position
        (few if n <= params["max_onehot_cardinality"] else many).append(identifier)
    return ColumnTransformer(
        [("onehot", _onehot_encoder(_ONEHOT_CAP), few), ("target", _target_encoder(), many)],
        sparse_threshold=0.0,
    )


def _by_cardinality_space(profile: DataProfile) -> tuple[HP, ...]:
    return (HP.int("max_onehot_cardinality", 2, 32, 8, log=True),)


# -- scaling -------------------------------------------------------------------
def _fixed(factory):
    """A ``make`` for a component without hyperparameters."""

    def make(params: dict[str, Any], profile: DataProfile) -> Any:
        return factory()

    return make


def _quantile(params: dict[str, Any], profile: DataProfile) -> QuantileTransformer:
    n_quantiles = max(2, min(1000, _train_rows(profile)))
    return QuantileTransformer(
        output_distribution=params["output_distribution"], n_quantiles=n_quantiles
    )


def _quantile_space(profile: DataProfile) -> tuple[HP, ...]:
    return (HP.choice("output_distribution", ("uniform", "normal"), "uniform"),)


# -- feature preprocessing -------------------------------------------------------
def _pca(params: dict[str, Any], profile: DataProfile) -> PCA:
    return PCA(n_components=params["variance"], whiten=params["whiten"], svd_solver="full")


def _pca_space(profile: DataProfile) -> tuple[HP, ...]:
    return (HP.float("variance", 0.5, 0.999, 0.95), HP.choice("whiten", (False, True), False))


def _select_percentile(params: dict[str, Any], profile: DataProfile) -> SelectPercentile:
    return SelectPercentile(f_classif, percentile=params["percentile"])


def _select_percentile_space(profile: DataProfile) -> tuple[HP, ...]:
    return (HP.int("percentile", 5, 95, 50),)


def _variance_threshold(params: dict[str, Any], profile: DataProfile) -> VarianceThreshold:
    return VarianceThreshold(threshold=params["threshold"])


def _variance_threshold_space(profile: DataProfile) -> tuple[HP, ...]:
    return (HP.float("threshold", 1e-6, 0.05, 1e-4, log=True),)


def _polynomial(params: dict[str, Any], profile: DataProfile) -> PolynomialFeatures:
    return PolynomialFeatures(
        degree=2, interaction_only=params["interaction_only"], include_bias=False
    )


def _polynomial_space(profile: DataProfile) -> tuple[HP, ...]:
    return (HP.choice("interaction_only", (False, True), False),)


def _nystroem(params: dict[str, Any], profile: DataProfile) -> Nystroem:
    return Nystroem(kernel="rbf", gamma=params["gamma"], n_components=params["n_components"])


def _nystroem_space(profile: DataProfile) -> tuple[HP, ...]:
    rows = _train_rows(profile)
    return (
        HP.float("gamma", 1e-4, 1.0, 1.0 / max(1, encoded_width(profile)), log=True),
        HP.int("n_components", min(10, rows), min(500, rows), min(100, rows), log=True),
    )


def _agglomeration(params: dict[str, Any], profile: DataProfile) -> FeatureAgglomeration:
    return FeatureAgglomeration(n_clusters=params["n_clusters"])


def _agglomeration_space(profile: DataProfile) -> tuple[HP, ...]:
    # Bounded by the raw column count, which encoding only widens.
    n_columns = profile.n_features
    return (HP.int("n_clusters", 2, min(n_columns - 1, 64), max(2, n_columns // 2), log=True),)


# -- classifiers -------------------------------------------------------------------
_CLASS_WEIGHT = HP.choice("class_weight", (None, "balanced"), None)


def _logistic_regression(params: dict[str, Any], profile: DataProfile) -> LogisticRegression:
    return LogisticRegression(C=params["C"], class_weight=params["class_weight"], max_iter=1000)


def _logistic_regression_space(profile: DataProfile) -> tuple[HP, ...]:
    return (HP.float("C", 1e-4, 1e4, 1.0, log=True), _CLASS_WEIGHT)


def _sgd(params: dict[str, Any], profile: DataProfile) -> SGDClassifier:
    return SGDClassifier(**params, max_iter=1000, tol=1e-3)


def _sgd_space(profile: DataProfile) -> tuple[HP, ...]:
    # Only the losses that give probabilities: the metrics need them.
    return (
        HP.choice("loss", ("log_loss", "modified_huber"), "log_loss"),
        HP.float("alpha", 1e-7, 1e-1, 1e-4, log=True),
        HP.choice("penalty", ("l2", "l1", "elasticnet"), "l2"),
        HP.float("l1_ratio", 0.0, 1.0, 0.15, active_if=("penalty", ("elasticnet",))),
        _CLASS_WEIGHT,
    )


def _knn(params: dict[str, Any], profile: DataProfile) -> KNeighborsClassifier:
    return KNeighborsClassifier(**params)


def _knn_space(profile: DataProfile) -> tuple[HP, ...]:
    high = min(100, _train_rows(profile) // 2)
    return (
        HP.int("n_neighbors", 1, high, 5, log=True),
        HP.choice("weights", ("uniform", "distance"), "uniform"),
        HP.choice("p", (1, 2), 2),
    )


def _gaussian_nb(params: dict[str, Any], profile: DataProfile) -> GaussianNB:
    return GaussianNB(**params)


def _gaussian_nb_space(profile: DataProfile) -> tuple[HP, ...]:
    return (HP.float("var_smoothing", 1e-12, 1e-1, 1e-9, log=True),)


def _decision_tree(params: dict[str, Any], profile: DataProfile) -> DecisionTreeClassifier:
    params = dict(params)
    max_depth = params.pop("max_depth") if params.pop("limit_depth") else None
    return DecisionTreeClassifier(max_depth=max_depth, **params)


def _decision_tree_space(profile: DataProfile) -> tuple[HP, ...]:
    return (
        HP.choice("criterion", ("gini", "entropy"), "gini"),
        HP.choice("limit_depth", (False, True), False),
        HP.int("max_depth", 1, 30, 8, active_if=("limit_depth", (True,))),
        HP.int("min_samples_leaf", 1, 50, 1, log=True),
        HP.int("min_samples_split", 2, 20, 2, log=True),
        _CLASS_WEIGHT,
    )


def _random_forest(params: dict[str, Any], profile: DataProfile) -> RandomForestClassifier:
    return RandomForestClassifier(**params, n_jobs=1)


def _extra_trees(params: dict[str, Any], profile: DataProfile) -> ExtraTreesClassifier:
    return ExtraTreesClassifier(**params, n_jobs=1)


def _forest_space(bootstrap: bool):
    def space(profile: DataProfile) -> tuple[HP, ...]:
        return (
            HP.int("n_estimators", 50, 500, 100, log=True),
            HP.choice("max_features", ("sqrt", "log2", 0.25, 0.5, 0.75, 1.0), "sqrt"),
            HP.choice("criterion", ("gini", "entropy"), "gini"),
            HP.int("min_samples_leaf", 1, 20, 1, log=True),
            HP.int("min_samples_split", 2, 20, 2, log=True),
            HP.choice("bootstrap", (True, False), bootstrap),
            HP.choice("class_weight", (None, "balanced", "balanced_subsample"), None),
        )

    return space


def _hist_gradient_boosting(params: dict[str, Any], profile: DataProfile):
    return HistGradientBoostingClassifier(**params)


def _hist_gradient_boosting_space(profile: DataProfile) -> tuple[HP, ...]:
    return (
        HP.float("learning_rate", 0.01, 1.0, 0.1, log=True),
        HP.int("max_iter", 50, 1000, 100, log=True),
        HP.int("max_leaf_nodes", 4, 256, 31, log=True),
        HP.int("min_samples_leaf", 2, max(2, min(200, _train_rows(profile) // 4)), 20, log=True),
        HP.float("l2_regularization", 1e-10, 10.0, 1e-10, log=True),
        _CLASS_WEIGHT,
    )


def _lightgbm(params: dict[str, Any], profile: DataProfile) -> LGBMClassifier:
    # A leaf's hessian floor of 0.1, not LightGBM's 1e-3: with many classes, leaves of
    # near-certain rows have almost no curvature, their values blow up, and the default
    # scored worse than the class prior (log loss 7.5 on kddcup, 2.6 on krkopt; prior 1.1,
    # 2.4). With 0.1 log loss is better on 39 of 55 multiclass reference datasets and
    # worse on 4; ROC AUC within noise (lightgbm_min_child_weight_report.txt).
    return LGBMClassifier(**params, min_child_weight=0.1, subsample_freq=1, n_jobs=1, verbose=-1)


def _lightgbm_space(profile: DataProfile) -> tuple[HP, ...]:
    return (
        HP.int("n_estimators", 50, 1000, 100, log=True),
        HP.float("learning_rate", 0.005, 0.5, 0.1, log=True),
        HP.int("num_leaves", 4, 256, 31, log=True),
        HP.int("min_child_samples", 2, 100, 20, log=True),
        HP.float("subsample", 0.5, 1.0, 1.0),
        HP.float("colsample_bytree", 0.3, 1.0, 1.0),
        HP.float("reg_lambda", 1e-3, 10.0, 1e-3, log=True),
        _CLASS_WEIGHT,
    )


def _xgboost(params: dict[str, Any], profile: DataProfile) -> VotingClassifier:
    model = XGBClassifier(**params, tree_method="hist", n_jobs=1, verbosity=0)
    # XGBoost wants labels 0..K-1; a one-member soft vote encodes and decodes any labels
    # with scikit-learn alone and passes the probabilities through unchanged.
    return VotingClassifier([("xgboost", model)], voting="soft")


def _xgboost_space(profile: DataProfile) -> tuple[HP, ...]:
    return (
        HP.int("n_estimators", 50, 1000, 100, log=True),
        HP.float("learning_rate", 0.005, 0.5, 0.3, log=True),
        HP.int("max_depth", 2, 12, 6),
        HP.float("min_child_weight", 0.5, 32.0, 1.0, log=True),
        HP.float("subsample", 0.5, 1.0, 1.0),
        HP.float("colsample_bytree", 0.3, 1.0, 1.0),
        HP.float("reg_lambda", 1e-3, 10.0, 1.0, log=True),
    )


def _mlp(params: dict[str, Any], profile: DataProfile) -> MLPClassifier:
    layers = (
        (params["width_1"],) if params["n_layers"] == 1 else (params["width_1"], params["width_2"])
    )
    return MLPClassifier(
        hidden_layer_sizes=layers,
        alpha=params["alpha"],
        learning_rate_init=params["learning_rate_init"],
        early_stopping=params["early_stopping"],
        max_iter=200,
    )


def _mlp_space(profile: DataProfile) -> tuple[HP, ...]:
    return (
        HP.choice("n_layers", (1, 2), 1),
        HP.int("width_1", 16, 256, 100, log=True),
        HP.int("width_2", 16, 256, 64, log=True, active_if=("n_layers", (2,))),
        HP.float("alpha", 1e-7, 1e-1, 1e-4, log=True),
        HP.float("learning_rate_init", 1e-4, 1e-1, 1e-3, log=True),
        HP.choice("early_stopping", (True, False), True),
    )


def _has_numeric(profile: DataProfile) -> bool:
    return bool(profile.numeric_columns)


def _has_categorical(profile: DataProfile) -> bool:
    return bool(profile.categorical_columns)


def _has_many_categories(profile: DataProfile) -> bool:
    return profile.max_cardinality > 2


def _narrow(profile: DataProfile) -> bool:
    return encoded_width(profile) <= _POLYNOMIAL_MAX_INPUTS


def _complete(profile: DataProfile) -> bool:
    return not profile.has_missing


def _several_columns(profile: DataProfile) -> bool:
    return profile.n_features >= 3


#: The classifiers come first in the order their defaults are tried: cheap and
#: strong before slow or weak.
COMPONENTS: tuple[Component, ...] = (
    Component("lightgbm", "classifier", _lightgbm, _lightgbm_space, scale_invariant=True),
    Component(
        "logistic_regression", "classifier", _logistic_regression, _logistic_regression_space
    ),
    Component(
        "random_forest",
        "classifier",
        _random_forest,
        _forest_space(bootstrap=True),
        scale_invariant=True,
    ),
    Component(
        "hist_gradient_boosting",
        "classifier",
        _hist_gradient_boosting,
        _hist_gradient_boosting_space,
        scale_invariant=True,
    ),
    Component(
        "extra_trees",
        "classifier",
        _extra_trees,
        _forest_space(bootstrap=False),
        scale_invariant=True,
    ),
    Component("xgboost", "classifier", _xgboost, _xgboost_space, scale_invariant=True),
    Component("knn", "classifier", _knn, _knn_space),
    Component("gaussian_nb", "classifier", _gaussian_nb, _gaussian_nb_space),
    Component("sgd", "classifier", _sgd, _sgd_space),
    Component("mlp", "classifier", _mlp, _mlp_space),
    Component(
        "decision_tree", "classifier", _decision_tree, _decision_tree_space, scale_invariant=True
    ),
    Component(
        "simple_imputer", "imputation", _imputer, _imputer_space, _has_numeric, inert=_complete
    ),
    Component("onehot", "encoding", _onehot, _onehot_space, _has_categorical),
    Component("ordinal", "encoding", _ordinal, applies=_has_categorical),
    Component("target", "encoding", _target, applies=_has_categorical),
    Component(
        "by_cardinality", "encoding", _by_cardinality, _by_cardinality_space, _has_many_categories
    ),
    Component("standard", "scaling", _fixed(StandardScaler), linear=True),
    Component(NO_SCALING, "scaling", _fixed(lambda: "passthrough"), linear=True),
    Component("robust", "scaling", _fixed(RobustScaler), linear=True),
    Component("minmax", "scaling", _fixed(MinMaxScaler), linear=True),
    Component("quantile", "scaling", _quantile, _quantile_space),
    Component("pca", "features", _pca, _pca_space),
    Component("select_percentile", "features", _select_percentile, _select_percentile_space),
    Component("variance_threshold", "features", _variance_threshold, _variance_threshold_space),
    Component("polynomial", "features", _polynomial, _polynomial_space, _narrow, expands=True),
    Component("nystroem", "features", _nystroem, _nystroem_space, expands=True),
    Component(
        "feature_agglomeration",
        "features",
        _agglomeration,
        _agglomeration_space,
        _several_columns,
        first_only=True,
    ),
)


def default_grammar(profile: DataProfile) -> Grammar:
    """The grammar of all built-in components for data described by ``profile``."""
    return Grammar(COMPONENTS, profile)


#: Data on which every component applies: what :func:`grammar_fingerprint` describes.
EVERY_COMPONENT = DataProfile(
    n_rows=1000,
    n_classes=3,
    numeric_columns=tuple(range(10)),
    categorical_columns=(10, 11),
    cardinalities=(3, 5),
    has_missing=True,
)


def grammar_fingerprint() -> str:
    """The fingerprint of the built-in components (see :attr:`Grammar.fingerprint`)."""
    return default_grammar(EVERY_COMPONENT).fingerprint


def default_candidates() -> list[PipelineSpec]:
    """Every classifier's default pipeline, with every preprocessing slot filled: a
    warm start adapts it to the data at hand."""
    return default_grammar(EVERY_COMPONENT).default_pipelines()
