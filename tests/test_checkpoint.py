"""Checkpoints: a search killed midway resumes from its journal without redoing anything."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from automl import AutoClassifier
from automl.checkpoint import JOURNAL, JOURNAL_VERSION, Journal
from automl.evaluation import FULL, Fidelity
from automl.grammar import PipelineSpec, Step
from automl.history import History, Trial
from automl.metrics import get_metric
from tests.helpers import REPO, mixed_frame


def _fit(checkpoint, max_evals, **params):
    X, y = mixed_frame(300)
    model = AutoClassifier(time_budget=None, max_evals=max_evals, random_state=0,
                           search="random", checkpoint=checkpoint, **params)  # fmt: skip
    return model.fit(X, y)


def test_a_resumed_search_serves_the_journal_and_ends_like_an_uninterrupted_one(tmp_path):
    whole = _fit(None, 12)
    first = _fit(tmp_path, 7)
    lines = (tmp_path / JOURNAL).read_text().splitlines()
    assert len(lines) == 1 + 7  # the header, then one line an evaluation
    # A kill mid-write leaves a torn last line: it is ignored and that evaluation redone.
    with open(tmp_path / JOURNAL, "a") as journal:
        journal.write('{"pipeline": {"format": 1, "classif')
    start = time.monotonic()
    resumed = _fit(tmp_path, 12)
    assert time.monotonic() - start < 0.8 * whole.fit_time_ + 5  # the first 7 were not rerun
    keys = [t.pipeline.key + str(t.fidelity) for t in resumed.history_.trials]
    assert keys == [t.pipeline.key + str(t.fidelity) for t in whole.history_.trials]
    assert [t.score for t in resumed.history_.trials] == [t.score for t in whole.history_.trials]
    digests = [t.predictions_digest for t in resumed.history_.trials]
    assert all(digests) and digests == [t.predictions_digest for t in whole.history_.trials]
    assert first.history_.trials[0].score == resumed.history_.trials[0].score
    X, _ = mixed_frame(300)
    np.testing.assert_array_equal(resumed.predict_proba(X), whole.predict_proba(X))
    records = []
    for line in (tmp_path / JOURNAL).read_text().splitlines()[1:]:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # the torn line stays; readers skip it
    assert len(records) == 12


def test_the_journal_keeps_the_fold_models_and_predictions_the_history_keeps(tmp_path):
    metric = get_metric("roc_auc", 2)
    journal, history = Journal(tmp_path, "search", metric), History(metric)
    rng = np.random.default_rng(0)
    classifiers = ["lightgbm"] * 3 + ["random_forest", "extra_trees"]
    looks = [(Fidelity(rows=1 / 3), None), (Fidelity(folds=1 / 3), np.ones((3, 2)))]
    pipelines = []
    for number in range(60):
        # First looks as successive halving makes them: on a share of the rows, or in one
        # repeat of the CV, which keeps its predictions. Then full evaluations, the first
        # five of pipelines looked at in one repeat.
        fidelity, oof = looks[number % 2] if number < 10 else (FULL, np.full((3, 2), number))
        if 10 <= number < 15:
            pipeline = pipelines[2 * (number - 10) + 1]
        else:
            classifier = Step.of(classifiers[rng.integers(5)], {"n_estimators": 10 + number})
            pipeline = PipelineSpec(classifier=classifier, scaling=Step("none"))
            pipelines.append(pipeline)
        trial = Trial(number, pipeline, "test", "ok", score=rng.random(), fit_time=rng.random(),
                      models=("fold",), fidelity=fidelity, oof_proba=oof)  # fmt: skip
        journal.record(trial)
        history.add(trial)
        in_journal = [journal.lookup(t.pipeline, t.fidelity) for t in history.trials]
        assert [bool(t.models) for t in in_journal] == [bool(t.models) for t in history.trials]
        assert [t.oof_proba is not None for t in in_journal] == [
            t.oof_proba is not None for t in history.trials
        ]
    assert len(list(tmp_path.glob("*.models.pkl"))) == 10
    # Read again, each evaluation has its own predictions, whatever its pipeline's others.
    reread = Journal(tmp_path, "search", metric)
    for trial in history.trials:
        again = reread.lookup(trial.pipeline, trial.fidelity)
        assert (again.oof_proba is None) == (trial.oof_proba is None)
        if trial.oof_proba is not None:
            np.testing.assert_array_equal(again.oof_proba, trial.oof_proba)


def test_other_data_or_settings_are_refused(tmp_path):
    _fit(tmp_path, 2)
    with pytest.raises(ValueError, match="belongs to another search"):
        _fit(tmp_path, 2, metric="accuracy")
    X, y = mixed_frame(300, seed=5)
    model = AutoClassifier(time_budget=None, max_evals=2, random_state=0, search="random",
                           checkpoint=tmp_path)  # fmt: skip
    with pytest.raises(ValueError, match="belongs to another search"):
        model.fit(X, y)
    # A journal of an older version holds pipelines that this one no longer proposes.
    journal = tmp_path / JOURNAL
    header, *lines = journal.read_text().splitlines()
    old = json.loads(header) | {"journal": JOURNAL_VERSION - 1}
    journal.write_text("\n".join([json.dumps(old), *lines]) + "\n")
    with pytest.raises(ValueError, match="another version of automl"):
        _fit(tmp_path, 2)


def test_a_checkpoint_needs_a_fixed_seed(tmp_path):
    X, y = mixed_frame(100)
    with pytest.raises(ValueError, match="checkpoint needs an integer random_state"):
        AutoClassifier(max_evals=2, checkpoint=tmp_path).fit(X, y)


def test_a_killed_process_resumes(tmp_path):
    script = textwrap.dedent(
        f"""
        from automl import AutoClassifier
        from tests.helpers import mixed_frame
        X, y = mixed_frame(300)
        AutoClassifier(time_budget=None, max_evals=40, random_state=0, search="random",
                       checkpoint={str(tmp_path)!r}).fit(X, y)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.Popen([sys.executable, "-c", script], env=env, cwd=REPO)
    journal = tmp_path / JOURNAL
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (
        not journal.exists() or len(journal.read_text().splitlines()) < 5
    ):
        time.sleep(0.2)
    run.send_signal(signal.SIGKILL)  # no chance to clean up: as a power cut would be
    run.wait()
    done = len(journal.read_text().splitlines()) - 1
    assert done >= 4
    resumed = _fit(tmp_path, done)  # as many as were journaled: all come from the journal
    assert resumed.fit_time_ < 10
    assert len(resumed.history_) == done
