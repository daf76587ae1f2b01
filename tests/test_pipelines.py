"""The golden examples in pipelines/: the formats users may have stored still read."""

from __future__ import annotations

import json

import pytest

from automl import AutoClassifier
from automl.components import default_grammar
from automl.data import DataProfile
from automl.export import read_manifest
from automl.grammar import PipelineSpec
from tests.helpers import REPO, mixed_frame

EXAMPLES = REPO / "pipelines" / "examples"
PIPELINES = sorted(p for p in EXAMPLES.glob("*.json") if not p.name.endswith(".pkl.json"))


def _profile(data: dict) -> DataProfile:
    tuples = {k: tuple(v) for k, v in data.items() if isinstance(v, list)}
    return DataProfile(**{**data, **tuples})


@pytest.mark.parametrize("path", PIPELINES, ids=lambda p: p.stem)
def test_every_golden_pipeline_parses_validates_and_keeps_its_key(path):
    example = json.loads(path.read_text())
    spec = PipelineSpec.from_dict(example["pipeline"])
    grammar = default_grammar(_profile(example["profile"]))
    assert grammar.problems(spec) == []
    assert spec.key == example["key"]
    assert spec.describe() == example["description"]
    assert grammar.build(spec).steps[-1][0] == "classifier"


def test_there_are_golden_pipelines():
    assert len(PIPELINES) >= 3


def test_a_fresh_export_has_the_golden_manifest_layout(tmp_path):
    golden = json.loads((EXAMPLES / "churn_model.pkl.json").read_text())
    X, y = mixed_frame(100)
    model = AutoClassifier(time_budget=None, max_evals=2, random_state=0).fit(X, y)
    model.export(tmp_path / "model.pkl")
    fresh = read_manifest(tmp_path / "model.pkl")
    assert fresh.keys() == golden.keys()
    assert fresh["versions"].keys() == golden["versions"].keys()
    assert fresh["format_version"] == golden["format_version"]
