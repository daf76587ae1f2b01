"""Building the knowledge base: real searches on small datasets, resumable, readable."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification

from automl.build_knowledge import (
    PORTFOLIO_JOURNAL,
    SEARCH_JOURNAL,
    build_knowledge_base,
    reference_datasets,
)
from automl.components import grammar_fingerprint
from automl.knowledge import KnowledgeBase, read_manifest
from automl.metafeatures import METAFEATURE_VERSION


def _write_dataset(folder, name, n_rows, n_classes, seed):
    X, y = make_classification(
        n_rows, n_features=6, n_informative=4, n_classes=n_classes, random_state=seed
    )
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(6)]).assign(target=y)
    frame.to_csv(folder / f"{name}.tsv.gz", sep="\t", index=False)


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    folder = tmp_path_factory.mktemp("datasets")
    for name, rows, classes, seed in [("tiny", 60, 2, 0), ("two", 150, 2, 1), ("three", 200, 3, 2)]:
        _write_dataset(folder, name, rows, classes, seed)
    return folder


def test_reference_datasets_skip_the_tiny_and_come_smallest_first(datasets):
    assert reference_datasets(datasets) == ["two", "three"]
    assert reference_datasets(datasets, min_rows=10) == ["tiny", "two", "three"]
    with pytest.raises(ValueError, match=r"No such datasets .*\['four'\]"):
        reference_datasets(datasets, only=["two", "four"])
    with pytest.raises(FileNotFoundError, match=r"No <name>\.tsv\.gz datasets"):
        reference_datasets(datasets / "nowhere")


def test_a_build_writes_a_knowledge_base_that_reads_back_and_resumes(datasets, tmp_path):
    logged: list[str] = []
    build_knowledge_base(datasets, tmp_path, budget_scale=0.1, only=["two"], log=logged.append)
    knowledge = KnowledgeBase.load(tmp_path)
    assert list(knowledge.datasets.index) == ["two"]
    manifest = read_manifest(tmp_path)
    assert manifest["metafeature_version"] == METAFEATURE_VERSION
    assert manifest["grammar_fingerprint"] == grammar_fingerprint()
    assert manifest["datasets"][0]["name"] == "two"
    assert knowledge.datasets.loc["two", "metric"] == "roc_auc"
    assert 0.5 < knowledge.datasets.loc["two", "best_score"] <= 1.0
    assert len(knowledge.best_pipelines("two", 3)) >= 1

    # A killed build leaves a torn last line: it is ignored, the rest is kept.
    with open(tmp_path / "journal" / SEARCH_JOURNAL, "a") as journal:
        journal.write('{"dataset": "three", "n_ro')
    logged.clear()
    build_knowledge_base(datasets, tmp_path, budget_scale=0.1, log=logged.append)
    searched = [line for line in logged if line.startswith("search") and "..." in line]
    assert searched == ["search three ..."]  # "two" is not searched again
    knowledge = KnowledgeBase.load(tmp_path)
    assert list(knowledge.datasets.index) == ["two", "three"]
    assert knowledge.datasets.loc["three", "metric"] == "log_loss"
    assert knowledge.regret.shape == (len(knowledge.portfolio), 2)
    assert np.all(knowledge.regret.min(axis=0) == 0)
    scored = [json.loads(line) for line in (tmp_path / "journal" / PORTFOLIO_JOURNAL).open()]
    assert all(set(r["scores"]) <= set(knowledge.portfolio) for r in scored)
