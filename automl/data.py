"""Checks the data a user gives to ``fit`` and ``predict`` and describes it.

Nothing here changes the user's data: ``X`` is kept as given (a DataFrame or an
array) and the fitted pipeline itself knows which columns are numeric and which
are categorical, so that it also works on raw data after export.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import column_or_1d

#: ``pandas.api.types.infer_dtype`` answers for object columns that hold numbers.
_NUMERIC_INFERRED = {"floating", "integer", "mixed-integer-float", "decimal", "boolean", "empty"}
_CATEGORICAL_INFERRED = {"string", "categorical", "bytes"}


@dataclass(frozen=True)
class DataProfile:
    """What the pipeline grammar needs to know of a training set.

    Column identifiers are names when ``X`` was a DataFrame with string column
    names, and positions otherwise.
    """

    n_rows: int
    n_classes: int
    numeric_columns: tuple[Hashable, ...]
    categorical_columns: tuple[Hashable, ...]
    cardinalities: tuple[int, ...] = ()
    has_missing: bool = False

    @property
    def n_features(self) -> int:
        return len(self.numeric_columns) + len(self.categorical_columns)

    @property
    def max_cardinality(self) -> int:
        return max(self.cardinalities, default=0)


@dataclass(frozen=True, eq=False)
class TrainingData:
    """Checked training data: ``X`` as given, labels and their integer codes."""

    X: pd.DataFrame | np.ndarray
    y: np.ndarray
    y_codes: np.ndarray
    classes: np.ndarray
    profile: DataProfile
    feature_names: np.ndarray | None


def check_training_data(X, y) -> TrainingData:
    """Validate ``X`` and ``y`` for ``fit`` and describe them.

    Raises
    ------
    ValueError
        Naming the problem and how to fix it: no rows, no columns, lengths that
        differ, missing or continuous labels, a single class, infinite values,
        columns of a type the pipelines cannot use.
    """
    if y is None:
        raise ValueError(
            "AutoClassifier requires y to be passed, but the target y is None. "
            "Call fit(X, y) with the labels."
        )
    X = _as_table(X)
    y = _check_labels(y)
    if X.shape[0] != y.shape[0]:
        raise ValueError(
            f"X has {X.shape[0]} rows but y has {y.shape[0]} labels; "
            "they must describe the same samples, one label per row."
        )
    classes, y_codes = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(
            f"y has 1 class ({classes[0]}); classification needs at least 2 classes. "
            "Check that the target column is the right one."
        )
    if X.shape[0] < 2:
        raise ValueError("fit needs at least 2 samples, one per class; got 1 sample.")
    numeric, categorical = _column_kinds(X)
    profile = DataProfile(
        n_rows=X.shape[0],
        n_classes=len(classes),
        numeric_columns=tuple(numeric),
        categorical_columns=tuple(categorical),
        cardinalities=tuple(_cardinality(_column(X, c)) for c in categorical),
        has_missing=bool(pd.isna(X).any(axis=None)),
    )
    return TrainingData(
        X=X,
        y=y,
        y_codes=y_codes.astype(np.int64),
        classes=classes,
        profile=profile,
        feature_names=feature_names(X),
    )


def feature_names(X) -> np.ndarray | None:
    """String column names of a DataFrame, or None where there are none."""
    if isinstance(X, pd.DataFrame) and all(isinstance(c, str) for c in X.columns):
        return np.asarray(X.columns, dtype=object)
    return None


def check_prediction_data(X, names: np.ndarray | None):
    """Validate ``X`` for ``predict`` and select the columns seen in ``fit`` by name.

    Extra columns are ignored and the order does not matter; a missing column is
    an error that names it.
    """
    X = _as_table(X)
    if names is None or not isinstance(X, pd.DataFrame):
        return X
    missing = [name for name in names if name not in X.columns]
    if missing:
        raise ValueError(
            "The feature names should match those that were passed during fit: "
            f"{len(missing)} column(s) are missing: {missing[:10]}. Pass a DataFrame "
            "that has them (extra columns are ignored, and the order does not matter)."
        )
    if list(X.columns) == list(names):
        return X
    return X.loc[:, list(names)]


def _as_table(X) -> pd.DataFrame | np.ndarray:
    if sparse.issparse(X):
        raise TypeError(
            "Sparse input is not supported: pass a dense numpy array or a pandas "
            "DataFrame (for example X.toarray())."
        )
    if not isinstance(X, pd.DataFrame):
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(
                f"Expected 2D array, got {X.ndim}D array instead. Reshape your data: "
                "one row per sample and one column per feature."
            )
        if np.iscomplexobj(X):
            raise ValueError("Complex data not supported: pass real-valued features.")
    elif X.columns.has_duplicates:
        duplicated = sorted({str(c) for c in X.columns[X.columns.duplicated()]})
        raise ValueError(
            f"X has duplicate column names {duplicated}: each column must have its own "
            "name. Rename or drop the copies, e.g. X = X.loc[:, ~X.columns.duplicated()]."
        )
    if X.shape[0] == 0:
        raise ValueError("Found array with 0 sample(s): X has no rows.")
    if X.shape[1] == 0:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={X.shape}) while a minimum of 1 is "
            "required: X has no columns."
        )
    return X


def _check_labels(y) -> np.ndarray:
    if isinstance(y, (pd.Series, pd.DataFrame)):
        y = y.to_numpy()
    y = column_or_1d(y, warn=True)
    missing = pd.isna(y)
    if missing.any():
        raise ValueError(
            f"y contains {int(missing.sum())} missing label(s). Drop those rows from "
            "X and y, or fill the labels in, before calling fit."
        )
    kind = type_of_target(y)
    if kind == "continuous":
        raise ValueError(
            f"Unknown label type: continuous. y holds {len(np.unique(y))} distinct "
            "float values, which looks like a regression target; AutoClassifier "
            "needs class labels (cast them to int or str if they are classes)."
        )
    if kind not in ("binary", "multiclass"):
        raise ValueError(f"Unknown label type: {kind}. y must be a 1D array of class labels.")
    try:
        np.unique(y)
    except TypeError as error:
        raise ValueError(
            "y mixes label types that cannot be ordered (for example strings and "
            "numbers); convert the labels to one type, e.g. y.astype(str)."
        ) from error
    return y


def _columns(X) -> list[Hashable]:
    if feature_names(X) is not None:
        return list(X.columns)
    return list(range(X.shape[1]))


def _column(X, column: Hashable) -> pd.Series:
    if isinstance(X, pd.DataFrame):
        return X[column] if isinstance(column, str) else X.iloc[:, column]
    return pd.Series(X[:, column])


def _column_kinds(X) -> tuple[list[Hashable], list[Hashable]]:
    numeric, categorical = [], []
    for column in _columns(X):
        values = _column(X, column)
        kind = _column_kind(values, column)
        if kind == "numeric":
            _check_finite(values, column)
            numeric.append(column)
        else:
            categorical.append(column)
    return numeric, categorical


def _column_kind(values: pd.Series, column: Hashable) -> str:
    dtype = values.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        raise ValueError(
            f"Column {column!r} holds dates or durations ({dtype}), which the pipelines "
            "cannot use directly. Turn it into numbers (e.g. year, month, day of "
            "week, or seconds since an origin) or drop it."
        )
    if _holds_pandas_na(values):
        raise ValueError(
            f"Column {column!r} marks missing text with pandas.NA, which the encoders "
            f"cannot sort among strings. Use NaN instead, e.g. X[{column!r}] = "
            f"X[{column!r}].astype(object).fillna(np.nan)."
        )
    if isinstance(dtype, pd.CategoricalDtype):
        return "categorical"
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    inferred = pd.api.types.infer_dtype(values, skipna=True)
    if inferred in _NUMERIC_INFERRED:
        return "numeric"
    if inferred in _CATEGORICAL_INFERRED:
        return "categorical"
    raise ValueError(
        f"Column {column!r} mixes value types ({inferred}: e.g. strings and "
        "numbers), which the encoders cannot order. Convert it to one type, "
        f"e.g. X[{column!r}] = X[{column!r}].astype(str)."
    )


def _holds_pandas_na(values: pd.Series) -> bool:
    """Whether missing text is ``pandas.NA`` (nullable "string" dtype, or objects)."""
    if isinstance(values.dtype, pd.StringDtype):
        return values.dtype.na_value is pd.NA and bool(values.isna().any())
    if values.dtype == object:
        return any(value is pd.NA for value in values[values.isna()])
    return False


def _check_finite(values: pd.Series, column: Hashable) -> None:
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    n_infinite = int(np.isinf(numbers).sum())
    if n_infinite:
        raise ValueError(
            f"Input X contains infinity in column {column!r} ({n_infinite} value(s)). "
            "Replace it by NaN, which is treated as missing, or by a finite value."
        )


def _cardinality(values: pd.Series) -> int:
    return int(values.nunique(dropna=True))
