"""The knowledge base in metadata/: ships with the package, reads back, answers queries."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from automl.components import default_grammar
from automl.data import check_training_data
from automl.knowledge import (
    PORTFOLIO_ROWS,
    PORTFOLIO_TIME_LIMIT,
    SCHEMA_VERSION,
    SKETCH_SIZE,
    Found,
    KnowledgeBase,
    read_manifest,
)
from automl.metafeatures import METAFEATURE_NAMES
from tests.helpers import REPO, mixed_frame

FIXTURE = REPO / "tests" / "fixtures" / "knowledge"
SHIPPED = KnowledgeBase.load()


def test_the_manifest_reads_from_a_checkout():
    manifest = read_manifest()
    assert manifest["schema_version"] == SCHEMA_VERSION and manifest["pipeline_format"] == 1


@pytest.mark.parametrize("root", [None, FIXTURE], ids=["shipped", "fixture"])
def test_every_stored_pipeline_parses_under_todays_grammar(root):
    """Guards against auto-sklearn's "Configuration N not found": a changed grammar."""
    knowledge = KnowledgeBase.load(root)
    grammar = default_grammar(check_training_data(*mixed_frame(200)).profile)
    assert {f.id for f in knowledge.found} | knowledge.defaults == set(knowledge.pipelines)
    for key, pipeline in knowledge.pipelines.items():
        assert pipeline.key == key
        assert grammar.adapt(pipeline) is not None
        for _, step in pipeline.steps():  # adapt would drop a renamed hyperparameter
            assert grammar.complete_step(step.name, step.kwargs).kwargs.keys() == step.kwargs.keys()
    assert set(knowledge.portfolio) <= set(knowledge.pipelines)
    assert knowledge.regret.shape == (len(knowledge.portfolio), len(knowledge))


def test_the_shipped_knowledge_base_covers_the_reference_datasets():
    manifest = read_manifest()
    assert len(SHIPPED) == len(manifest["datasets"]) >= 30
    assert {d["name"] for d in manifest["datasets"]} == set(SHIPPED.datasets.index)
    assert len(SHIPPED.portfolio) >= 10 and len(SHIPPED.greedy_portfolio(8)) == 8


def test_the_fixture_reads_back():
    knowledge = KnowledgeBase.load(FIXTURE)
    assert len(knowledge) == 5 and len(knowledge.portfolio) >= 2
    assert list(knowledge.datasets.columns[-len(METAFEATURE_NAMES) :]) == list(METAFEATURE_NAMES)
    assert np.all((knowledge.regret >= 0) & (knowledge.regret <= 1))
    assert np.all(knowledge.regret.min(axis=0) == 0)  # some candidate is best on each dataset


def _handmade(
    regret: list[list[float]],
    rows: list[int],
    sketches: list[str] | None = None,
    fit_times: list[list[float]] | None = None,
) -> KnowledgeBase:
    """Datasets d0, d1, ... with the given rows (all distinct, with disjoint sketches
    unless given) and 2 classes; candidate i found best on d_i, with ROC AUC 1 - regret,
    fitting in 1 s everywhere unless ``fit_times`` say otherwise."""
    grammar = default_grammar(check_training_data(*mixed_frame(200)).profile)
    pipelines = [grammar.default_pipeline(name) for name in grammar.options("classifier")]
    names = [f"d{j}" for j in range(len(rows))]
    datasets = pd.DataFrame(
        {"n_rows": rows, "n_classes": 2, "metric": "roc_auc", "distinct_rows": rows}
        | {"row_sketch": sketches or [f"{j:016x}" for j in range(len(rows))]}
        | {name: np.arange(len(rows), dtype=float) for name in METAFEATURE_NAMES},
        index=pd.Index(names, name="dataset"),
    )
    candidates = pipelines[: len(regret)]
    return KnowledgeBase(
        datasets,
        {p.key: p for p in candidates},
        tuple(Found(names[i], 0, 0.9, p.key) for i, p in enumerate(candidates)),
        tuple(p.key for p in candidates),
        1.0 - np.array(regret, dtype=float),
        np.ones((len(regret), len(rows))) if fit_times is None else np.array(fit_times, float),
    )


def test_the_greedy_portfolio_covers_the_datasets_together():
    # Candidate 0 is the best single one, but 1 and 2 complement each other.
    knowledge = _handmade(
        [[0.2, 0.2, 0.2, 0.2], [0.0, 0.0, 1.0, 1.0], [1.0, 1.0, 0.0, 0.0]], [100] * 4
    )
    first, second, third = knowledge.greedy_portfolio(3)
    keys = knowledge.portfolio
    assert first.key == keys[0]
    assert {second.key, third.key} == {keys[1], keys[2]}
    # Restricted to the datasets where candidate 1 is best, it comes first.
    assert knowledge.greedy_portfolio(1, ["d0", "d1"])[0].key == keys[1]
    # Only the allowed candidates are chosen, as many as there are.
    allowed = knowledge.greedy_portfolio(3, allowed=np.array([True, False, True]))
    assert [p.key for p in allowed] == [keys[0], keys[2]]


def test_fit_seconds_scale_to_the_rows_and_count_a_failure_as_the_time_limit():
    knowledge = _handmade(
        [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]],
        [PORTFOLIO_ROWS // 2, 2 * PORTFOLIO_ROWS, 10 * PORTFOLIO_ROWS],
        fit_times=[[1.0, 4.0, 3.0], [1.0, np.nan, np.nan]],
    )
    # Timed on all rows of d0, then on a PORTFOLIO_ROWS-row subsample of the larger two.
    seconds = knowledge.fit_seconds(["d0", "d1", "d2"], n_rows=2 * PORTFOLIO_ROWS)
    assert seconds == pytest.approx([6.0, 2 * PORTFOLIO_TIME_LIMIT])
    on_half_of_d0 = knowledge.fit_seconds(["d0"], n_rows=PORTFOLIO_ROWS // 4)
    assert on_half_of_d0 == pytest.approx([0.5, 0.5])


def test_leaving_a_dataset_out_removes_its_near_duplicates_and_what_was_found_on_them():
    knowledge = _handmade([[0.0, 1.0, 1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 0.0]], [1000, 1005, 5000])
    assert knowledge.near_duplicates("d0") == {"d0", "d1"}
    rest = knowledge.without(["d0"])
    assert list(rest.datasets.index) == ["d2"]
    assert {f.dataset for f in rest.found} == {"d2"}
    assert rest.portfolio == (knowledge.portfolio[2],)
    assert rest.regret.shape == (1, 1)


def _bottom(hashes: np.ndarray, k: int = SKETCH_SIZE) -> str:
    return " ".join(f"{h:016x}" for h in np.unique(hashes)[:k])


def test_datasets_that_share_most_rows_are_near_duplicates_whatever_their_size():
    rng = np.random.default_rng(0)
    d0 = rng.integers(0, 2**63, 300, dtype=np.uint64)
    d1 = rng.choice(d0, 100, replace=False)  # a subset, as glass2 of glass
    d2 = np.concatenate(  # a quarter of its rows are rows of d0: another dataset
        [rng.choice(d0, 30, replace=False), rng.integers(0, 2**63, 100, dtype=np.uint64)]
    )
    knowledge = _handmade([[0.0, 0.0, 0.0]], [300, 100, 130], [_bottom(d) for d in (d0, d1, d2)])
    assert knowledge.near_duplicates("d1") == {"d0", "d1"}
    assert knowledge.near_duplicates("d0") == {"d0", "d1"}
    assert knowledge.near_duplicates("d2") == {"d2"}


def test_leaving_out_keeps_only_what_the_kept_datasets_contributed():
    # Candidate 1 is best on d1 (left out) and second best on d2: it leaves the
    # portfolio, and d2's regrets are normalised again over what is left.
    knowledge = _handmade([[0.0, 1.0, 0.5], [1.0, 0.0, 0.0], [1.0, 1.0, 1.0]], [100, 200, 300])
    knowledge = replace(
        knowledge, found=(*knowledge.found, Found("d2", 1, 0.9, knowledge.portfolio[1]))
    )
    rest = knowledge.without(["d1"])
    assert rest.portfolio == (knowledge.portfolio[0], knowledge.portfolio[2])
    assert rest.regret.tolist() == [[0.0, 0.0], [1.0, 1.0]]


def test_leaving_out_keeps_the_defaults_whoever_found_them_too():
    # Candidate 1, best on d1, is also a classifier's default: it stays without d1.
    knowledge = _handmade([[0.0, 1.0, 0.5], [1.0, 0.0, 0.0], [1.0, 1.0, 1.0]], [100, 200, 300])
    knowledge = replace(knowledge, defaults=frozenset({knowledge.portfolio[1]}))
    rest = knowledge.without(["d1"])
    assert rest.portfolio == knowledge.portfolio and rest.defaults == knowledge.defaults
    assert rest.regret[:, 1].tolist() == [0.5, 0.0, 1.0]


def test_the_nearest_datasets_come_nearest_first():
    knowledge = _handmade([[0.0, 0.0, 0.0]], [100, 200, 300])
    query = dict.fromkeys(METAFEATURE_NAMES, 1.9)
    assert knowledge.nearest(query, 2) == ["d2", "d1"]
    assert KnowledgeBase.empty().nearest(query, 2) == []


def test_a_knowledge_base_of_other_meta_features_is_refused(tmp_path):
    for path in FIXTURE.iterdir():
        (tmp_path / path.name).write_text(path.read_text())
    manifest = read_manifest(tmp_path) | {"metafeature_version": 0}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="Rebuild it with `automl kb build`, or fit with warm"):
        KnowledgeBase.load(tmp_path)


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("metric", None, r"invalid values \(glass: metric nan\)"),
        ("landmark_lda", None, r"invalid values \(glass: landmark_lda\)"),
        ("row_sketch", "drop", r"lacks \['row_sketch'\]"),
    ],
)
def test_a_knowledge_base_with_gaps_is_refused_by_name(tmp_path, column, value, message):
    # A NaN meta-feature would make every distance NaN and the nearest datasets the
    # first ones in the file; an empty metric would fail later with a bare KeyError.
    for path in FIXTURE.iterdir():
        (tmp_path / path.name).write_text(path.read_text())
    datasets = pd.read_csv(tmp_path / "datasets.csv").set_index("dataset")
    if value == "drop":
        datasets = datasets.drop(columns=column)
    else:
        datasets.loc["glass", column] = value
    datasets.to_csv(tmp_path / "datasets.csv")
    with pytest.raises(ValueError, match=message):
        KnowledgeBase.load(tmp_path)


def test_a_built_wheel_carries_the_knowledge_base_and_the_command(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(tmp_path), str(REPO)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (wheel,) = tmp_path.glob("automl-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "automl/metadata/manifest.json" in names
    assert not any("journal" in name for name in names)
    if len(SHIPPED):
        assert "automl/metadata/pipelines.jsonl" in names
    assert "cli.py" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "automl = cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
