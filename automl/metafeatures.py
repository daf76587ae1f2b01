"""Meta-features: a fixed, named description of a dataset, to find similar ones.

Three kinds, as in auto-sklearn's meta-learning (Feurer et al., "Efficient and
Robust Automated Machine Learning", NeurIPS 2015) and Pfahringer, Bensusan and
Giraud-Carrier's landmarking (ICML 2000):

- simple: size, shape, kinds of columns, missing values;
- statistical: class balance, the shape of the numeric distributions, how the
  features correlate with each other and with the class;
- landmarkers: the cross-validated accuracy of five fast learners (1-NN, a
  decision stump, a depth-5 tree, naive Bayes, LDA), which tells what kind of
  structure the data has.

Everything is computed on a subsample (rows and columns), so that it takes about a
second on any size of data, and never fails: string and categorical columns become
integer codes, missing values are filled, undefined quantities are 0. The set is
versioned: a knowledge base built with another version cannot be compared.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.feature_selection import f_classif
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.tree import DecisionTreeClassifier

from automl.data import DataProfile, feature_names
from automl.evaluation import take_rows

#: Changes whenever a meta-feature is added, removed or computed differently.
METAFEATURE_VERSION = 1

#: Rows and columns the statistics and the landmarkers look at, at most.
STATISTICS_ROWS = 5000
LANDMARK_ROWS = 1000
MAX_COLUMNS = 200
_LANDMARK_FOLDS = 3

LANDMARKERS = {
    "landmark_1nn": lambda seed: KNeighborsClassifier(n_neighbors=1),
    "landmark_stump": lambda seed: DecisionTreeClassifier(max_depth=1, random_state=seed),
    "landmark_tree": lambda seed: DecisionTreeClassifier(max_depth=5, random_state=seed),
    "landmark_naive_bayes": lambda seed: GaussianNB(),
    "landmark_lda": lambda seed: LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto"),
}

METAFEATURE_NAMES = (
    # simple
    "log_rows",
    "log_features",
    "log_rows_per_feature",
    "log_classes",
    "share_categorical",
    "share_binary",
    "log_mean_cardinality",
    "log_max_cardinality",
    "share_missing_cells",
    "share_rows_with_missing",
    "share_features_with_missing",
    # class balance
    "class_entropy",
    "majority_share",
    "minority_share",
    "log_imbalance",
    "log_smallest_class",
    # numeric distributions, correlations, dimension, relevance
    "skewness_mean",
    "skewness_std",
    "skewness_max",
    "kurtosis_mean",
    "kurtosis_std",
    "kurtosis_max",
    "correlation_mean",
    "correlation_max",
    "share_correlated_pairs",
    "pca_first_share",
    "pca_share_for_95",
    "log_f_mean",
    "log_f_max",
    # landmarkers
    *LANDMARKERS,
)


def compute_metafeatures(
    X, y_codes: np.ndarray, profile: DataProfile, *, random_state: int = 0
) -> dict[str, float]:
    """The meta-features of a checked training set, in :data:`METAFEATURE_NAMES` order.

    Parameters
    ----------
    X : DataFrame or ndarray
        The features as the user gave them (see :func:`automl.data.check_training_data`).
    y_codes : ndarray of int
        Class codes ``0 .. n_classes - 1``.
    profile : DataProfile
    random_state : int
        Seeds the subsamples and the landmarkers: the same data gives the same values.
    """
    rng = np.random.default_rng(random_state)
    rows = _subsample_rows(len(y_codes), STATISTICS_ROWS, rng)
    numeric, categorical = _columns_as_numbers(X, rows, profile, rng)
    y = y_codes[rows]
    values = {
        **_simple(X, profile),
        **_class_balance(y_codes, profile.n_classes),
        **_numeric_statistics(numeric, y),
        **_landmarks(np.hstack([numeric, categorical]), y, rng, random_state),
    }
    return {name: _finite(values.get(name, 0.0)) for name in METAFEATURE_NAMES}


def _simple(X, profile: DataProfile) -> dict[str, float]:
    n_rows, n_features = profile.n_rows, max(1, profile.n_features)
    missing = np.asarray(pd.isna(X))
    cardinalities = profile.cardinalities or (0,)
    return {
        "log_rows": math.log(n_rows),
        "log_features": math.log(n_features),
        "log_rows_per_feature": math.log(n_rows / n_features),
        "log_classes": math.log(profile.n_classes),
        "share_categorical": len(profile.categorical_columns) / n_features,
        "share_binary": sum(c == 2 for c in profile.cardinalities) / n_features,
        "log_mean_cardinality": math.log1p(np.mean(cardinalities)),
        "log_max_cardinality": math.log1p(max(cardinalities)),
        "share_missing_cells": missing.mean(),
        "share_rows_with_missing": missing.any(axis=1).mean(),
        "share_features_with_missing": missing.any(axis=0).mean(),
    }


def _class_balance(y_codes: np.ndarray, n_classes: int) -> dict[str, float]:
    counts = np.bincount(y_codes, minlength=n_classes)
    counts = counts[counts > 0]
    shares = counts / counts.sum()
    return {
        "class_entropy": stats.entropy(shares) / math.log(n_classes),
        "majority_share": shares.max(),
        "minority_share": shares.min(),
        "log_imbalance": math.log(counts.max() / counts.min()),
        "log_smallest_class": math.log(counts.min()),
    }


def _numeric_statistics(numeric: np.ndarray, y: np.ndarray) -> dict[str, float]:
    spread = _spread(numeric)
    varying = numeric[:, np.isfinite(spread) & (spread > 0)]
    if varying.shape[1] == 0:
        return {}
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        skewness = np.abs(stats.skew(varying, axis=0))
        kurtosis = stats.kurtosis(varying, axis=0)
        f_statistic, _ = f_classif(varying, y) if len(np.unique(y)) > 1 else (np.zeros(1), None)
    values = {
        "skewness_mean": np.nanmean(skewness),
        "skewness_std": np.nanstd(skewness),
        "skewness_max": np.nanmax(skewness),
        "kurtosis_mean": np.nanmean(kurtosis),
        "kurtosis_std": np.nanstd(kurtosis),
        "kurtosis_max": np.nanmax(kurtosis),
        "log_f_mean": math.log1p(np.nanmean(np.nan_to_num(f_statistic, posinf=1e6))),
        "log_f_max": math.log1p(np.nanmax(np.nan_to_num(f_statistic, posinf=1e6))),
    }
    return values | _correlations(varying)


def _correlations(varying: np.ndarray) -> dict[str, float]:
    """Correlation summaries, and the principal components of the standardised features.

    The variances of those components are the eigenvalues of the correlation matrix,
    so no decomposition of the data itself is needed.
    """
    if varying.shape[1] < 2:
        return {}
    correlation = np.corrcoef(varying, rowvar=False)
    pairs = np.abs(correlation[np.triu_indices_from(correlation, k=1)])
    explained = np.sort(np.clip(np.linalg.eigvalsh(correlation), 0, None))[::-1]
    explained /= explained.sum()
    needed = np.searchsorted(np.cumsum(explained), 0.95) + 1
    return {
        "correlation_mean": pairs.mean(),
        "correlation_max": pairs.max(),
        "share_correlated_pairs": (pairs > 0.9).mean(),
        "pca_first_share": explained[0],
        "pca_share_for_95": needed / varying.shape[1],
    }


def _spread(features: np.ndarray) -> np.ndarray:
    """Standard deviation of each column; infinite where its values near the float
    limit (such a column would make every correlation NaN: callers leave it out)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return features.std(axis=0)


def _landmarks(
    features: np.ndarray, y: np.ndarray, rng: np.random.Generator, seed: int
) -> dict[str, float]:
    rows = _subsample_rows(len(y), LANDMARK_ROWS, rng)
    # Classes too small to be in every fold would make the folds fail, not the learners.
    rows = rows[np.bincount(y[rows])[y[rows]] >= _LANDMARK_FOLDS]
    features, y = features[rows], y[rows]
    spread = _spread(features)
    features, spread = features[:, np.isfinite(spread)], spread[np.isfinite(spread)]
    if len(np.unique(y)) < 2 or features.shape[1] == 0:
        return {}
    features = (features - features.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
    folds = StratifiedKFold(_LANDMARK_FOLDS, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            name: cross_val_score(make(seed), features, y, cv=folds, error_score=0.0).mean()
            for name, make in LANDMARKERS.items()
        }


def _columns_as_numbers(
    X, rows: np.ndarray, profile: DataProfile, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Numeric columns (missing values as the median) and categorical codes, on ``rows``."""
    table = pd.DataFrame(take_rows(X, rows))
    if feature_names(X) is None:  # the profile names columns by position
        table.columns = range(table.shape[1])
    numeric = _some(profile.numeric_columns, MAX_COLUMNS, rng)
    categorical = _some(profile.categorical_columns, MAX_COLUMNS - len(numeric), rng)
    values = table[list(numeric)].apply(pd.to_numeric, errors="coerce").to_numpy(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a column that is all missing
        medians = np.nan_to_num(np.nanmedian(values, axis=0)) if values.size else []
    values = np.where(np.isnan(values), medians, values)
    codes = np.column_stack(
        [pd.factorize(table[column])[0] for column in categorical] or [np.empty((len(rows), 0))]
    )
    return values.reshape(len(rows), -1), codes.astype(float).reshape(len(rows), -1)


def _subsample_rows(n_rows: int, limit: int, rng: np.random.Generator) -> np.ndarray:
    if n_rows <= limit:
        return np.arange(n_rows)
    return np.sort(rng.choice(n_rows, limit, replace=False))


def _some(columns: tuple, limit: int, rng: np.random.Generator) -> list:
    if len(columns) <= limit:
        return list(columns)
    return [columns[i] for i in np.sort(rng.choice(len(columns), limit, replace=False))]


def _finite(value) -> float:
    value = float(value)
    return value if math.isfinite(value) else 0.0
