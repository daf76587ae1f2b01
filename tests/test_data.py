"""Checking and describing user data: clear errors, and nothing changed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from automl.data import check_prediction_data, check_training_data


def test_a_mixed_frame_is_described_and_left_as_given(mixed):
    X, y = mixed
    before = X.copy()
    data = check_training_data(X, y)
    assert data.X is X
    pd.testing.assert_frame_equal(X, before)
    assert data.profile.numeric_columns == ("age", "visits", "member")
    assert data.profile.categorical_columns == ("plan", "city")
    assert data.profile.cardinalities == (3, 25)
    assert data.profile.has_missing
    assert list(data.classes) == ["churn", "stay"]
    assert list(data.classes[data.y_codes]) == list(y)


def test_an_object_array_is_split_into_numbers_and_strings():
    X = np.array(
        [[1.0, "a", True], [2.5, "b", False], [np.nan, None, True], [4, "a", False]], dtype=object
    )
    data = check_training_data(X, [0, 1, 0, 1])
    assert data.profile.numeric_columns == (0, 2)
    assert data.profile.categorical_columns == (1,)
    assert data.feature_names is None


def test_pandas_categorical_and_nullable_columns():
    X = pd.DataFrame(
        {
            "colour": pd.Categorical(["red", "blue", None, "red"]),
            "count": pd.array([1, None, 3, 4], dtype="Int64"),
            "flag": pd.array([True, False, None, True], dtype="boolean"),
        }
    )
    profile = check_training_data(X, ["x", "y", "x", "y"]).profile
    assert profile.categorical_columns == ("colour",)
    assert profile.numeric_columns == ("count", "flag")


@pytest.mark.parametrize(
    "X,y,message",
    [
        (np.zeros((0, 3)), [], "0 sample"),
        (np.zeros((4, 0)), [0, 1, 0, 1], "0 feature"),
        (np.zeros((4, 2)), [0, 1, 0], "X has 4 rows but y has 3 labels"),
        (np.zeros((4, 2)), [0, 0, 0, 0], "y has 1 class"),
        (np.zeros((4, 2)), ["a", None, "b", "a"], "1 missing label"),
        (np.zeros((4, 2)), [0.1, 0.25, 3.7, 1.2], "Unknown label type: continuous"),
        (np.zeros(4), [0, 1, 0, 1], "Expected 2D array"),
        (np.array([[1.0, np.inf], [2.0, 3.0]]), [0, 1], "infinity in column 1"),
        (np.ones((4, 2)) + 1j, [0, 1, 0, 1], "Complex data not supported"),
        (
            pd.DataFrame({"when": pd.date_range("2024-01-01", periods=4)}),
            [0, 1, 0, 1],
            "dates or durations",
        ),
        (pd.DataFrame({"mixed": ["a", 1, "b", 2.5]}), [0, 1, 0, 1], "mixes value types"),
        (
            pd.DataFrame({"text": pd.array(["a", None, "b", "a"], dtype="string")}),
            [0, 1, 0, 1],
            "marks missing text with pandas.NA",
        ),
    ],
)
def test_bad_training_data_gets_an_error_that_names_the_fix(X, y, message):
    with pytest.raises(ValueError, match=message):
        check_training_data(X, y)


def test_sparse_input_is_refused_with_the_fix():
    with pytest.raises(TypeError, match="toarray"):
        check_training_data(sparse.csr_matrix(np.eye(4)), [0, 1, 0, 1])


def test_y_none_is_refused():
    with pytest.raises(ValueError, match="requires y to be passed"):
        check_training_data(np.zeros((4, 2)), None)


def test_a_column_vector_y_warns_and_is_used():
    with pytest.warns(Warning, match="column-vector y"):
        data = check_training_data(np.zeros((4, 2)), np.array([[0], [1], [0], [1]]))
    assert data.y.shape == (4,)


def test_prediction_columns_are_realigned_by_name_and_extras_ignored(mixed):
    X, _ = mixed
    names = np.asarray(X.columns, dtype=object)
    shuffled = X[["city", "member", "age", "plan", "visits"]].assign(extra=1)
    aligned = check_prediction_data(shuffled, names)
    assert list(aligned.columns) == list(names)


def test_a_missing_prediction_column_is_named(mixed):
    X, _ = mixed
    with pytest.raises(ValueError, match=r"missing: \['plan'\]"):
        check_prediction_data(X.drop(columns="plan"), np.asarray(X.columns, dtype=object))
