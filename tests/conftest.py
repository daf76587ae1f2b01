"""Fixtures shared by the tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from automl.data import check_training_data
from tests.helpers import SHARED_DATASETS, mixed_frame


@pytest.fixture
def mixed():
    return mixed_frame()


@pytest.fixture
def mixed_data(mixed):
    return check_training_data(*mixed)


@pytest.fixture
def shared_datasets() -> Path:
    if not SHARED_DATASETS.is_dir():
        pytest.skip("../shared/datasets is not beside this checkout")
    return SHARED_DATASETS
