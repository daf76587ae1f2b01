"""Building the knowledge base: real searches on small datasets, resumable, readable."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification

from automl import build_knowledge
from automl.build_knowledge import (
    PORTFOLIO_JOURNAL,
    SEARCH_JOURNAL,
    build_knowledge_base,
    reference_datasets,
    score_portfolio,
)
from automl.components import default_candidates, default_grammar, grammar_fingerprint
from automl.data import check_training_data
from automl.knowledge import KnowledgeBase, read_manifest
from automl.metafeatures import METAFEATURE_VERSION
from automl.search.loop import run_search


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
    build_knowledge_base(datasets, tmp_path, budget_scale=0.2, only=["two"], log=logged.append)
    knowledge = KnowledgeBase.load(tmp_path)
    assert list(knowledge.datasets.index) == ["two"]
    manifest = read_manifest(tmp_path)
    assert manifest["metafeature_version"] == METAFEATURE_VERSION
    assert manifest["grammar_fingerprint"] == grammar_fingerprint()
    assert manifest["datasets"][0]["name"] == "two"
    assert knowledge.datasets.loc["two", "metric"] == "roc_auc"
    assert 0.5 < knowledge.datasets.loc["two", "best_score"] <= 1.0
    ranks = [f.rank for f in knowledge.found if f.dataset == "two"]
    assert ranks and ranks == list(range(len(ranks)))  # best first
    # Every classifier's default competes in the portfolio, found by no dataset.
    defaults = {p.key for p in default_candidates()}
    assert knowledge.defaults == defaults <= set(knowledge.portfolio)
    assert not defaults & {f.id for f in knowledge.found}
    assert np.isfinite(knowledge.scores[list(knowledge.portfolio).index(min(defaults))]).all()

    # A killed build leaves a torn last line: it is ignored, the rest is kept.
    with open(tmp_path / "journal" / SEARCH_JOURNAL, "a") as journal:
        journal.write('{"dataset": "three", "n_ro')
    logged.clear()
    build_knowledge_base(datasets, tmp_path, budget_scale=0.2, log=logged.append)
    searched = [line for line in logged if line.startswith("search") and "..." in line]
    assert searched == ["search three ..."]  # "two" is not searched again
    knowledge = KnowledgeBase.load(tmp_path)
    assert list(knowledge.datasets.index) == ["two", "three"]
    assert knowledge.datasets.loc["three", "metric"] == "log_loss"
    assert knowledge.regret.shape == (len(knowledge.portfolio), 2)
    assert np.all(knowledge.regret.min(axis=0) == 0)
    scored = [json.loads(line) for line in (tmp_path / "journal" / PORTFOLIO_JOURNAL).open()]
    assert all(set(r["scores"]) <= set(knowledge.portfolio) for r in scored)
    timed = np.isfinite(knowledge.scores)
    assert np.all(knowledge.fit_times[timed] > 0) and np.all(np.isnan(knowledge.fit_times[~timed]))
    assert "12 s by size" in read_manifest(tmp_path)["search"]  # 60 s x 0.2, from the records

    # A portfolio record made with other settings is scored again; the others are kept.
    stale = scored[-1] | {"time_limit": 1.0}
    with open(tmp_path / "journal" / PORTFOLIO_JOURNAL, "a") as journal:
        journal.write(json.dumps(stale) + "\n")
    logged.clear()
    build_knowledge_base(datasets, tmp_path, budget_scale=0.2, log=logged.append)
    assert not [line for line in logged if line.startswith("search")]  # kept past the torn line
    rescored = [line.split(":")[0] for line in logged if "candidates ..." in line]
    assert rescored == [f"portfolio {stale['dataset']}"]

    # Another row limit matters only where it took a sample: "three" (200 rows) scored
    # on 100 is scored again, "two" (150 rows) scored whole under a higher limit is kept.
    by_name = {r["dataset"]: r for r in scored}
    with open(tmp_path / "journal" / PORTFOLIO_JOURNAL, "a") as journal:
        journal.write(json.dumps(by_name["two"] | {"rows": 10**6}) + "\n")
        journal.write(json.dumps(by_name["three"] | {"rows": 100}) + "\n")
    logged.clear()
    build_knowledge_base(datasets, tmp_path, budget_scale=0.2, log=logged.append)
    rescored = [line.split(":")[0] for line in logged if "candidates ..." in line]
    assert rescored == ["portfolio three"]

    # A record that lacks candidates (new defaults, say) gets only those scored.
    record = json.loads((tmp_path / "journal" / PORTFOLIO_JOURNAL).read_text().splitlines()[-1])
    lacking = sorted(record["scores"])[:2]
    partial = record | {
        field: {k: v for k, v in record[field].items() if k not in lacking}
        for field in ("scores", "fit_times")
    }
    with open(tmp_path / "journal" / PORTFOLIO_JOURNAL, "a") as journal:
        journal.write(json.dumps(partial) + "\n")
    logged.clear()
    build_knowledge_base(datasets, tmp_path, budget_scale=0.2, log=logged.append)
    total = len(record["scores"])
    assert [line for line in logged if "candidates ..." in line] == [
        f"portfolio {record['dataset']}: 2 of {total} candidates ..."
    ]
    merged = json.loads((tmp_path / "journal" / PORTFOLIO_JOURNAL).read_text().splitlines()[-1])
    assert set(merged["scores"]) == set(record["scores"])
    kept = set(record["scores"]) - set(lacking)
    assert all(merged["scores"][k] == record["scores"][k] for k in kept)


def test_candidates_that_compute_the_same_are_scored_once(datasets, monkeypatch):
    evaluated = []

    def counting(searcher, runner, history, **kwargs):
        result = run_search(searcher, runner, history, **kwargs)
        evaluated.extend(t.pipeline.key for t in history.trials)
        return result

    monkeypatch.setattr(build_knowledge, "run_search", counting)
    grammar = default_grammar(check_training_data(*_frame(datasets, "two")).profile)
    forest = grammar.default_pipeline("random_forest")
    scaled = dataclasses.replace(forest, scaling=grammar.default_step("scaling", "standard"))
    logistic = grammar.default_pipeline("logistic_regression")
    candidates = {p.key: p for p in (forest, scaled, logistic)}
    record = score_portfolio(datasets, "two", candidates, "roc_auc", n_jobs=1)
    scores = record["scores"]
    assert scores[forest.key] == scores[scaled.key] != scores[logistic.key]
    fit_times = record["fit_times"]
    assert fit_times[forest.key] == fit_times[scaled.key] > 0 and fit_times[logistic.key] > 0
    assert sorted(evaluated) == sorted([forest.key, logistic.key])
    assert all(0.5 < score <= 1 for score in scores.values())


def _frame(folder, name):
    frame = pd.read_csv(folder / f"{name}.tsv.gz", sep="\t")
    return frame.drop(columns="target"), frame["target"]
