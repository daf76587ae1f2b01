"""Meta-features: a fixed, finite description of any training set, in about a second."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification

from automl.data import check_training_data
from automl.metafeatures import METAFEATURE_NAMES, compute_metafeatures
from tests.helpers import mixed_frame


def _metafeatures(X, y, **kwargs) -> dict[str, float]:
    data = check_training_data(X, y)
    return compute_metafeatures(data.X, data.y_codes, data.profile, **kwargs)


def test_every_meta_feature_is_finite_on_messy_data():
    X, y = mixed_frame(300)
    X["empty"] = np.nan
    X["constant"] = 1.0
    values = _metafeatures(X, y)
    assert list(values) == list(METAFEATURE_NAMES)
    assert len(values) >= 30
    assert all(np.isfinite(v) for v in values.values())
    assert values["share_categorical"] == 2 / 7  # plan and city; the boolean counts as numeric
    assert 0 < values["share_missing_cells"] < 0.2
    assert values["share_features_with_missing"] == 3 / 7


def test_values_near_the_float_limit_leave_the_statistics_finite():
    X, y = make_classification(300, n_features=6, random_state=0)
    X[:, 0] *= 1e200  # finite, but its variance is not
    values = _metafeatures(X, y)
    assert all(np.isfinite(v) for v in values.values())
    assert values["correlation_max"] < 1.0  # the other five columns are still described


def test_the_same_data_gives_the_same_values_as_array_or_frame():
    X, y = make_classification(400, n_features=8, random_state=0)
    as_array = _metafeatures(X, y, random_state=3)
    assert as_array == _metafeatures(X, y, random_state=3)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(8)])
    assert _metafeatures(frame, y, random_state=3) == as_array


def test_landmarkers_tell_signal_from_noise():
    X, y = make_classification(600, n_features=10, n_informative=5, class_sep=2.0, random_state=0)
    learnable = _metafeatures(X, y)
    noise = _metafeatures(np.random.default_rng(0).normal(size=(600, 10)), y)
    for name in ("landmark_1nn", "landmark_lda", "landmark_tree"):
        assert learnable[name] > 0.85
        assert abs(noise[name] - 0.5) < 0.1


def test_class_balance_and_size():
    X = np.random.default_rng(0).normal(size=(1000, 4))
    y = np.array([0] * 900 + [1] * 99 + [2])  # a class with one member
    values = _metafeatures(X, y)
    assert values["majority_share"] == 0.9 and values["minority_share"] == 0.001
    assert values["log_rows"] == np.log(1000)
    assert values["log_classes"] == np.log(3)
    assert values["log_smallest_class"] == 0.0
    assert 0 < values["class_entropy"] < 0.5


def test_large_data_is_subsampled():
    rng = np.random.default_rng(0)
    signal = rng.normal(size=60_000)
    X = signal[:, None] + rng.normal(0, 0.1, size=(60_000, 300))  # every column tells the class
    y = (signal > 0).astype(int)
    values = _metafeatures(X, y)
    assert values["log_rows"] == np.log(60_000) and values["log_features"] == np.log(300)
    assert values["landmark_stump"] > 0.9
    assert values["correlation_mean"] > 0.9 and values["pca_first_share"] > 0.9
