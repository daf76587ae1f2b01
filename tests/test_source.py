"""Models exported as Python source rebuild the same objects and refit to the same model."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from automl import AutoClassifier
from automl.components import default_grammar
from automl.data import check_training_data
from automl.grammar import PipelineSpec
from automl.source import python_source
from tests.helpers import REPO, mixed_frame
from tests.test_pipelines import _profile

EXAMPLES = REPO / "pipelines" / "examples"


def _build_model(source: str):
    namespace: dict = {}
    exec(compile(source, "model.py", "exec"), namespace)
    return namespace["build_model"]()


def _parameters(estimator) -> dict[str, str]:
    """Every parameter, nested ones included, as text (estimators by their own parameters)."""
    return {
        name: repr(value)
        for name, value in estimator.get_params(deep=True).items()
        if not hasattr(value, "get_params") and name not in {"steps", "transformers"}
    }


def test_the_source_of_any_pipeline_rebuilds_it_parameter_for_parameter():
    grammar = default_grammar(check_training_data(*mixed_frame(200)).profile)
    rng = np.random.default_rng(0)
    for _ in range(150):
        pipeline = grammar.build(grammar.sample(rng), random_state=7)
        source = python_source(
            pipeline, title="t", summary="s", metric="log_loss", filename="m.py", version="0"
        )
        assert "automl" not in source.split('"""', 2)[2]  # nothing of ours is imported
        assert _parameters(_build_model(source)) == _parameters(pipeline)


def test_the_golden_source_is_what_the_golden_pipeline_exports_to():
    example = json.loads((EXAMPLES / "lightgbm_defaults_mixed.json").read_text())
    grammar = default_grammar(_profile(example["profile"]))
    pipeline = grammar.build(PipelineSpec.from_dict(example["pipeline"]), random_state=0)
    source = python_source(
        pipeline,
        title=example["description"],
        summary="the golden example of pipelines/README.md.",
        metric="roc_auc",
        filename="lightgbm_defaults_mixed.py",
        version="0.1.0",
    )
    assert source == (EXAMPLES / "lightgbm_defaults_mixed.py").read_text()


@pytest.fixture(scope="module")
def fitted():
    X, y = mixed_frame(300)
    model = AutoClassifier(
        time_budget=None, max_evals=10, random_state=0, search="random", metric="log_loss"
    )
    return model.fit(X, y), X, y


@pytest.mark.parametrize("ensemble", [False, True], ids=["single", "ensemble"])
def test_the_script_refits_in_a_fresh_process_to_the_same_model(fitted, tmp_path, ensemble):
    model, X, y = fitted
    model.export(tmp_path / "model.py", ensemble=ensemble)
    X.assign(label=y).to_csv(tmp_path / "data.csv", index=False)
    run = textwrap.dedent(
        """
        import runpy, sys
        sys.modules["automl"] = None  # any import of automl now fails
        sys.argv = ["model.py", "data.csv", "--target", "label", "--out", "refit.pkl"]
        runpy.run_path("model.py", run_name="__main__")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", run], capture_output=True, text=True, cwd=tmp_path, check=True
    )
    metric, score = result.stdout.split()[:2]
    assert metric == "log_loss"
    if not ensemble:  # other folds than the search's, so equal within noise only
        assert abs(float(score) - model.best_score_) < 0.05
    refit = pd.read_pickle(tmp_path / "refit.pkl")
    if not ensemble:  # the same pipeline refitted on the same rows: the same model
        np.testing.assert_allclose(
            refit.predict_proba(X), model.best_pipeline_.predict_proba(X), rtol=1e-6
        )
    else:  # each member refitted on all rows, where the fitted ensemble bags fold models
        assert [w for _, w in model.ensemble_] == pytest.approx(list(refit.weights))
        gap = np.abs(refit.predict_proba(X) - model.predict_proba(X)).mean()
        assert gap < 0.05
