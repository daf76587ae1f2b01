"""The automl command end to end, in subprocesses, as a user runs it."""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from tests.helpers import REPO


def automl(*args: str, cwd) -> subprocess.CompletedProcess:
    """Run ``automl ARGS`` from this checkout, as the console script would."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "cli", *args], capture_output=True, text=True, cwd=cwd, env=env
    )


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    result = automl(
        "fit", str(REPO / "examples" / "churn.csv"), "--target", "churned",
        "--max-evals", "4", "--time-budget", "none", "--seed", "0", "--out", "churn.pkl",
        cwd=folder,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return folder, result


def test_fit_shows_progress_and_the_leaderboard_and_writes_the_model(fitted):
    folder, result = fitted
    assert "evaluations" in result.stderr and "best roc_auc" in result.stderr
    assert "rank" in result.stdout and "Best:" in result.stdout
    assert (folder / "churn.pkl").exists() and (folder / "churn.pkl.json").exists()


def test_predict_writes_labels_and_probabilities(fitted):
    folder, _ = fitted
    data = pd.read_csv(REPO / "examples" / "churn.csv").head(50)
    data.drop(columns="churned").to_csv(folder / "new.csv", index=False)
    result = automl("predict", "churn.pkl", "new.csv", "--proba", "--out", "p.csv", cwd=folder)
    assert result.returncode == 0, result.stderr
    predictions = pd.read_csv(folder / "p.csv")
    assert list(predictions.columns) == ["prediction", "proba_no", "proba_yes"]
    assert len(predictions) == 50 and set(predictions["prediction"]) <= {"yes", "no"}


def test_predict_to_standard_output_reads_tsv(fitted):
    folder, _ = fitted
    data = pd.read_csv(REPO / "examples" / "churn.csv").head(5)
    data.to_csv(folder / "new.tsv", sep="\t", index=False)  # the target column is ignored
    result = automl("predict", "churn.pkl", "new.tsv", cwd=folder)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "prediction" and len(result.stdout.splitlines()) == 6


def test_info_describes_the_model_without_loading_it(fitted):
    folder, _ = fitted
    result = automl("info", "churn.pkl", cwd=folder)
    assert result.returncode == 0, result.stderr
    assert "pipeline:" in result.stdout and "roc_auc" in result.stdout
    assert "['no', 'yes']" in result.stdout


def test_a_missing_target_column_is_named_with_a_suggestion(tmp_path):
    result = automl("fit", str(REPO / "examples" / "churn.csv"), "--target", "churn", cwd=tmp_path)
    assert result.returncode == 2
    assert "'churn' does not exist" in result.stderr and "churned" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_file_is_an_error_not_a_traceback(tmp_path):
    result = automl("predict", "nothing.pkl", "new.csv", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_fit_options_come_from_the_estimator(tmp_path):
    result = automl("fit", "--help", cwd=tmp_path)
    for option in ("--time-budget", "--metric", "--n-jobs", "--seed", "--max-evals", "--out"):
        assert option in result.stdout


@pytest.mark.skipif(shutil.which("automl") is None, reason="the project is not installed")
def test_the_console_script_is_installed():
    result = subprocess.run(["automl", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "fit" in result.stdout


def test_export_writes_python_source_that_rebuilds_the_model(fitted):
    folder, _ = fitted
    result = automl("export", "churn.pkl", "--python", "churn.py", cwd=folder)
    assert result.returncode == 0, result.stderr
    source = (folder / "churn.py").read_text()
    compile(source, "churn.py", "exec")
    assert "def build_model():" in source and "import automl" not in source
    missing = automl("export", "nowhere.pkl", "--python", "x.py", cwd=folder)
    assert missing.returncode == 2 and "nowhere.pkl" in missing.stderr


class Hostile:
    """A pickle that runs a command when it is loaded, as an attacker's would."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_predict_refuses_unchecked_pickles_and_nothing_in_them_runs(fitted, tmp_path):
    folder, _ = fitted
    data = str(REPO / "examples" / "churn.csv")
    marker = tmp_path / "owned"
    hostile = pickle.dumps(Hostile(marker))
    (tmp_path / "bare.pkl").write_bytes(hostile)  # no manifest at all
    (tmp_path / "swapped.pkl").write_bytes(hostile)  # a genuine manifest, another payload
    shutil.copy(folder / "churn.pkl.json", tmp_path / "swapped.pkl.json")
    for name, message in [("bare.pkl", "--trust"), ("swapped.pkl", "does not match")]:
        result = automl("predict", name, data, cwd=tmp_path)
        assert result.returncode == 2 and message in result.stderr
        info = automl("info", name, cwd=tmp_path)  # reads the manifest, never the pickle
        assert info.returncode == (2 if name == "bare.pkl" else 0)
    swapped_trusted = automl("predict", "swapped.pkl", data, "--trust", cwd=tmp_path)
    assert swapped_trusted.returncode == 2  # its manifest describes another file
    assert not marker.exists()
    # What --trust is for: a pickle of your own that has lost its manifest.
    shutil.copy(folder / "churn.pkl", tmp_path / "own.pkl")
    trusted = automl("predict", "own.pkl", data, "--trust", cwd=tmp_path)
    assert trusted.returncode == 0, trusted.stderr
    assert trusted.stdout.startswith("prediction")
