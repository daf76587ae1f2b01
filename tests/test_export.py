"""Exported models: a plain pickle that predicts without automl, checked before loading."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import textwrap
from fractions import Fraction

import numpy as np
import pytest
import skops.io

from automl import AutoClassifier, load_model
from automl.components import default_grammar
from automl.data import check_training_data
from automl.ensemble import voting_ensemble
from automl.export import SKOPS_TYPES, manifest_path, read_manifest
from tests.helpers import mixed_frame


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    X, y = mixed_frame(200)
    model = AutoClassifier(time_budget=None, max_evals=4, random_state=0).fit(X, y)
    path = tmp_path_factory.mktemp("export") / "model.pkl"
    model.export(path)
    return model, path, X


def test_the_pickle_predicts_in_a_fresh_process_without_automl(exported, tmp_path):
    model, path, X = exported
    X.to_pickle(tmp_path / "X.pkl")
    script = textwrap.dedent(
        f"""
        import pickle, sys
        import pandas as pd
        sys.modules["automl"] = None  # any import of automl now fails
        with open({str(path)!r}, "rb") as file:
            pipeline = pickle.load(file)
        X = pd.read_pickle({str(tmp_path / "X.pkl")!r})
        pd.DataFrame(pipeline.predict_proba(X)).to_csv(sys.stdout, index=False, header=False)
        print("classes", pipeline.classes_.tolist())
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, check=True
    )
    *rows, classes = result.stdout.strip().splitlines()
    proba = np.array([[float(v) for v in row.split(",")] for row in rows])
    np.testing.assert_allclose(proba, model.predict_proba(X))
    assert classes == "classes ['churn', 'stay']"


def test_the_manifest_describes_the_model(exported):
    model, path, _ = exported
    manifest = read_manifest(path)
    assert manifest["classes"] == ["churn", "stay"]
    assert manifest["features"]["categorical"] == ["plan", "city"]
    assert manifest["cv_score"] == pytest.approx(model.best_score_)
    assert manifest["versions"]["scikit-learn"] and manifest["versions"]["python"]
    assert manifest["pipeline"] == model.best_pipeline_spec_.to_dict()


def test_load_model_returns_the_same_predictions(exported):
    model, path, X = exported
    loaded, _ = load_model(path)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_a_changed_pickle_is_refused_unloaded(exported, tmp_path):
    _, path, _ = exported
    copy = tmp_path / "model.pkl"
    copy.write_bytes(path.read_bytes() + b"tampered")
    manifest_path(copy).write_text(manifest_path(path).read_text())
    with pytest.raises(ValueError, match="does not match its manifest"):
        load_model(copy)


def test_other_library_versions_give_a_warning(exported, tmp_path):
    _, path, _ = exported
    copy = tmp_path / "model.pkl"
    copy.write_bytes(path.read_bytes())
    manifest = json.loads(manifest_path(path).read_text())
    manifest["versions"]["scikit-learn"] = "0.1.0"
    manifest_path(copy).write_text(json.dumps(manifest))
    with pytest.warns(UserWarning, match=r"scikit-learn 0.1.0 ->"):
        load_model(copy)


def test_a_pickle_without_manifest_is_not_loaded(tmp_path):
    (tmp_path / "model.pkl").write_bytes(b"not checked")
    with pytest.raises(FileNotFoundError, match="was not exported by automl"):
        load_model(tmp_path / "model.pkl")


def test_the_skops_allowlist_covers_every_kind_of_pipeline():
    X, y = mixed_frame(150)
    grammar = default_grammar(check_training_data(X, y).profile)
    rng = np.random.default_rng(0)
    specs = [grammar.default_pipeline(n) for n in grammar.options("classifier")]
    specs += [grammar.sample(rng) for _ in range(40)]
    fitted = [(grammar.build(spec, random_state=0).fit(X, y), 1.0) for spec in specs]
    for model in [m for m, _ in fitted] + [voting_ensemble(fitted[:4], X, y)]:
        assert set(skops.io.get_untrusted_types(data=skops.io.dumps(model))) <= set(SKOPS_TYPES)


def test_a_skops_export_loads_without_unpickling_and_refuses_foreign_types(exported, tmp_path):
    model, _, X = exported
    model.export(tmp_path / "model.skops")
    loaded, manifest = load_model(tmp_path / "model.skops")
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X))
    assert manifest["classes"] == ["churn", "stay"]
    # A file that holds something else is refused, and is never handed to pickle.
    (tmp_path / "foreign.skops").write_bytes(skops.io.dumps({"payload": Fraction(1, 3)}))
    with pytest.raises(ValueError, match=r"not made of.*fractions\.Fraction"):
        load_model(tmp_path / "foreign.skops", trust=True)
    (tmp_path / "pickled.skops").write_bytes(pickle.dumps(model.model_))
    with pytest.raises(Exception, match=r"(?i)zip"):
        load_model(tmp_path / "pickled.skops", trust=True)
