"""A journal of finished evaluations, so that a killed ``fit`` resumes without redoing them.

``AutoClassifier(checkpoint="dir")`` keeps ``dir/journal.jsonl``: a header line that
identifies the data and the settings, then one line per finished evaluation, each
appended and flushed to disk as it ends (a torn last line, from a kill, is ignored).
The out-of-fold predictions and the fold models of the best evaluations, which the
ensemble is made of, sit beside it (``.npy`` and ``.models.pkl`` files). A new ``fit``
with the same data and settings reads the journal and serves every evaluation it
holds from there instead of running it again; with the same seed and ``n_jobs=1``
the search then retraces its steps and goes on where it stopped.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from automl.evaluation import Fidelity
from automl.grammar import PipelineSpec
from automl.history import Trial, keeping_models, keeping_predictions
from automl.metrics import Metric

JOURNAL = "journal.jsonl"
PREDICTIONS, MODELS = ".npy", ".models.pkl"
#: 2: pipelines in their canonical form, and a digest of each one's predictions.
#: 3: predictions of any fidelity (first looks on small data join ensembles), a file each.
JOURNAL_VERSION = 3


def fingerprint(X, y, settings: dict[str, Any]) -> str:
    """Identifies a search: the data, and the settings that decide its evaluations."""
    return joblib.hash((joblib.hash(X), joblib.hash(y), json.dumps(settings, sort_keys=True)))


class Journal:
    """The evaluations of one search on disk, by pipeline and fidelity.

    Raises
    ------
    ValueError
        When ``directory`` holds the journal of another search (other data or settings).
    """

    def __init__(self, directory: str | os.PathLike, identity: str, metric: Metric):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / JOURNAL
        self.metric = metric
        self._trials: dict[tuple[str, Fidelity], Trial] = {}
        if self.path.exists() and self.path.stat().st_size:
            self._read(identity)
        else:
            self._append({"journal": JOURNAL_VERSION, "identity": identity})

    def __len__(self) -> int:
        return len(self._trials)

    def lookup(self, pipeline: PipelineSpec, fidelity: Fidelity) -> Trial | None:
        """The journaled evaluation of ``pipeline`` at ``fidelity``, if there is one."""
        return self._trials.get((pipeline.key, fidelity))

    def record(self, trial: Trial) -> None:
        """Append ``trial``; keep its predictions and fold models if it is among the best."""
        if trial.oof_proba is not None:
            np.save(self._file(trial.pipeline.key, trial.fidelity, PREDICTIONS), trial.oof_proba)
        if trial.models:
            joblib.dump(trial.models, self._file(trial.pipeline.key, trial.fidelity, MODELS))
        self._append(_to_record(trial))
        self._trials[(trial.pipeline.key, trial.fidelity)] = trial
        self._forget_predictions_beyond()
        self._forget_models_beyond()

    def _read(self, identity: str) -> None:
        text = self.path.read_text()
        header, *lines = text.splitlines()
        found = json.loads(header)
        if found.get("identity") != identity or found.get("journal") != JOURNAL_VERSION:
            raise ValueError(
                f"The checkpoint in {self.directory} belongs to another search (other data "
                "or settings: metric, cv, search, random_state, warm_start; or another "
                "version of automl). Resume with the same data, settings and version, or "
                "give another checkpoint directory."
            )
        for line in lines:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:  # the torn end of a killed run
                continue
            trial = _from_record(record)
            predictions = self._file(trial.pipeline.key, trial.fidelity, PREDICTIONS)
            if record["predictions"] and predictions.exists():
                trial = dataclasses.replace(trial, oof_proba=np.load(predictions))
            models = self._file(trial.pipeline.key, trial.fidelity, MODELS)
            if models.exists():
                trial = dataclasses.replace(trial, models=joblib.load(models))
            self._trials[(trial.pipeline.key, trial.fidelity)] = trial
        if not text.endswith("\n"):  # a torn last line: the next record starts afresh
            with open(self.path, "a") as file:
                file.write("\n")

    def _forget_predictions_beyond(self) -> None:
        kept = {id(t) for t in keeping_predictions(self._trials.values(), self.metric)}
        for trial in [t for t in self._trials.values() if t.oof_proba is not None]:
            if id(trial) not in kept:
                self._file(trial.pipeline.key, trial.fidelity, PREDICTIONS).unlink(missing_ok=True)
                key = (trial.pipeline.key, trial.fidelity)
                self._trials[key] = _without_predictions(trial)

    def _forget_models_beyond(self) -> None:
        kept = {id(t) for t in keeping_models(self._trials.values(), self.metric)}
        for trial in [t for t in self._trials.values() if t.models]:
            if id(trial) not in kept:
                self._file(trial.pipeline.key, trial.fidelity, MODELS).unlink(missing_ok=True)
                key = (trial.pipeline.key, trial.fidelity)
                self._trials[key] = dataclasses.replace(trial, models=())

    def _file(self, key: str, fidelity: Fidelity, suffix: str) -> Path:
        """Where a trial's predictions or fold models are kept. The models are pickles
        written and read by automl only, in the user's own checkpoint directory."""
        return self.directory / f"{key}-{fidelity.rows:g}-{fidelity.folds:.3g}{suffix}"

    def _append(self, record: dict) -> None:
        with open(self.path, "a") as file:
            file.write(json.dumps(record, sort_keys=True) + "\n")
            file.flush()
            os.fsync(file.fileno())


def _to_record(trial: Trial) -> dict:
    def number(value: float) -> float | None:
        return float(value) if math.isfinite(value) else None

    return {
        "pipeline": trial.pipeline.to_dict(),
        "pipeline_key": trial.pipeline.key,
        "fidelity": [trial.fidelity.rows, trial.fidelity.folds],
        "origin": trial.origin,
        "status": trial.status,
        "score": number(trial.score),
        "score_std": number(trial.score_std),
        "fold_scores": list(trial.fold_scores),
        "fit_time": number(trial.fit_time),
        "duration": number(trial.duration),
        "error": trial.error,
        "predictions": trial.oof_proba is not None,
        "predictions_digest": trial.predictions_digest,
    }


def _from_record(record: dict) -> Trial:
    """The trial a journal record holds, without its predictions and fold models
    (kept in files of their own)."""

    def number(value: float | None) -> float:
        return math.nan if value is None else value

    rows, folds = record["fidelity"]
    return Trial(
        number=0,
        pipeline=PipelineSpec.from_dict(record["pipeline"]),
        origin=record["origin"],
        status=record["status"],
        score=number(record["score"]),
        score_std=number(record["score_std"]),
        fold_scores=tuple(record["fold_scores"]),
        fit_time=number(record["fit_time"]),
        duration=number(record["duration"]),
        error=record["error"],
        fidelity=Fidelity(rows=rows, folds=folds),
        predictions_digest=record.get("predictions_digest", ""),
    )


def _without_predictions(trial: Trial) -> Trial:
    return dataclasses.replace(trial, oof_proba=None)
