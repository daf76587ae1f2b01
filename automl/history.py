"""The record of a search: what was proposed, and one :class:`Trial` for each evaluation."""

from __future__ import annotations

import dataclasses
import functools
import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from automl.evaluation import FULL, Fidelity
from automl.grammar import PipelineSpec
from automl.metrics import Metric

STATUSES = ("ok", "failed", "timeout", "memout", "crashed", "cancelled")
#: A promotion not started: it would not have ended in the time left. Only the
#: searcher hears of it; the history has no such trial.
SKIPPED = "skipped"
#: Out-of-fold predictions are kept for this many of the best trials only, and for
#: the ensemble's candidates: on large data each is rows x classes numbers.
KEEP_PREDICTIONS = 50
#: Trials whose fold models are kept (:func:`ensemble_candidates`): the
#: candidates of the ensemble, bagged from those models or standing in for their refits.
KEEP_MODELS = 10
#: At most this many of the candidates share a classifier, while others are left:
#: near-copies of one pipeline make an ensemble no better than that pipeline alone.
KEEP_PER_CLASSIFIER = 3
_LEADERBOARD_COLUMNS = (
    "rank",
    "pipeline",
    "score",
    "score_std",
    "fit_time",
    "duration",
    "status",
    "fidelity",
    "origin",
    "finished_at",
    "hyperparameters",
    "key",
    "error",
)


@dataclass(frozen=True)
class Proposal:
    """A pipeline to evaluate and where it came from (shown in the leaderboard)."""

    pipeline: PipelineSpec
    origin: str
    fidelity: Fidelity = FULL
    #: Seconds the evaluation should take, where a cheaper one of the pipeline tells
    #: (0: not known).
    expected_seconds: float = 0.0
    #: A cheaper evaluation of the pipeline on all rows of the first folds: those
    #: folds are not fitted again, their scores are taken from it.
    reuses: Trial | None = None


@dataclass(frozen=True, eq=False)
class Trial:
    """One evaluated pipeline, whatever became of it.

    ``score`` is the mean validation score (NaN unless ``status == "ok"``) at
    ``fidelity``; ``finished_at`` counts seconds from the start of ``fit``.
    """

    number: int
    pipeline: PipelineSpec
    origin: str
    status: str
    score: float = math.nan
    score_std: float = math.nan
    fold_scores: tuple[float, ...] = ()
    fit_time: float = math.nan
    duration: float = math.nan
    finished_at: float = math.nan
    error: str = ""
    oof_proba: np.ndarray | None = None
    fidelity: Fidelity = FULL
    #: Fitted fold models of the best trials, predicting class codes.
    models: tuple = ()
    #: Identifies the validation predictions: two pipelines with one classifier step
    #: and one digest at one fidelity are the same model (a step that did nothing).
    predictions_digest: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok" and not math.isnan(self.score)

    @functools.cached_property
    def validated_rows(self) -> bytes:
        """Which rows the predictions are of, packed (empty without predictions)."""
        if self.oof_proba is None:
            return b""
        return np.packbits(~np.isnan(self.oof_proba[:, 0])).tobytes()


def rank(trials: Iterable[Trial], metric: Metric, *, prefer_faster: bool = True) -> list[Trial]:
    """Successful ``trials`` validated on the most folds, one per pipeline (its highest
    fidelity), best first; ties go to the faster, or with ``prefer_faster=False`` to the
    earlier.

    Trials validated on the same folds compete, whatever share of the training rows
    they fitted on: a score from fewer rows undersells its pipeline, whose refit on all
    rows does better. At 10 s on letter the search had time to fit LightGBM on a third
    of the rows only (log loss 0.34) and chose a logistic regression (0.93) that had
    reached all of them. Scores on fewer folds never compete with those on more: one
    repeat of a small dataset's cross-validation, or one fold, can flatter.
    """
    successful = [t for t in trials if t.ok]
    most_folds = max((t.fidelity.folds for t in successful), default=1.0)
    competing = [t for t in successful if t.fidelity.folds == most_folds]
    most_rows: dict[str, float] = {}
    for trial in competing:
        key = trial.pipeline.key
        most_rows[key] = max(most_rows.get(key, 0.0), trial.fidelity.rows)
    return sorted(
        (t for t in competing if t.fidelity.rows == most_rows[t.pipeline.key]),
        key=lambda t: _order(t, metric, prefer_faster),
    )


def _order(trial: Trial, metric: Metric, prefer_faster: bool) -> tuple[float, float]:
    """Best first; ties go to the faster, or to the earlier."""
    return -metric.objective(trial.score), trial.fit_time if prefer_faster else trial.number


def ensemble_candidates(
    trials: Iterable[Trial], metric: Metric, *, prefer_faster: bool = True
) -> list[Trial]:
    """The KEEP_MODELS trials an ensemble chooses among, best first: full evaluations,
    and in places they leave free first looks of pipelines not evaluated in full.

    A candidate holds predictions for the rows it validated, and its fold models: a
    full evaluation does, and so does a first look on all the training rows of its
    folds. On small data that is one repeat of the cross-validation, which validates
    every row. A short search there makes mostly first looks (balance_scale at 10 s:
    17 evaluations, 3 of them in full), the only ones of most classifiers; with them
    the ensemble scored better at 10 s, but where first looks also took the places of
    full evaluations, worse at 30 s (benchmarks/results/firstlook_report.txt). Of full
    evaluations at most KEEP_PER_CLASSIFIER take one classifier; if that leaves places
    free, the next best fill them, whatever their classifier; first looks likewise. A
    search that exploits one family still hands the ensemble the best of the others it
    reached. A trial left out loses its fold models (:func:`keeping_models`), so it is
    never taken again.

    The candidates validated the same rows (:func:`_validated_alike`): on medium data a
    first look validates one fold, and its promotion the others.
    """
    held = _validated_alike([t for t in trials if t.ok and t.oof_proba is not None and t.models])
    full = [t for t in held if t.fidelity == FULL]
    in_full = {t.pipeline.key for t in full}
    looks = [t for t in held if t.fidelity != FULL and t.pipeline.key not in in_full]
    chosen: list[Trial] = []
    for group in (full, looks):
        best_first = sorted(group, key=lambda t: _order(t, metric, prefer_faster))
        kept = {id(t) for t in _varied_first(best_first)[: KEEP_MODELS - len(chosen)]}
        chosen += [t for t in best_first if id(t) in kept]
    return chosen


def _validated_alike(held: list[Trial]) -> list[Trial]:
    """The trials of ``held`` that validated one set of rows: the set of at least two
    pipelines evaluated in full, or else the set of the most trials.

    An ensemble weighs its members on the rows they all validated. On medium data a
    search too short for two full evaluations (at 10 s on mfeat_fourier none was) thus
    chooses among its first looks, on their fold, rather than refit one alone.
    """
    by_rows: dict[bytes, list[Trial]] = defaultdict(list)
    for trial in held:
        by_rows[trial.validated_rows].append(trial)

    def preference(group: list[Trial]) -> tuple[bool, int]:
        n_full = len({t.pipeline.key for t in group if t.fidelity == FULL})
        return n_full >= 2, len(group)

    return max(by_rows.values(), key=preference, default=[])


def _varied_first(best_first: list[Trial]) -> list[Trial]:
    """``best_first`` with at most KEEP_PER_CLASSIFIER of one classifier first, then
    the others."""
    seen: Counter[str] = Counter()
    varied, alike = [], []
    for trial in best_first:
        classifier = trial.pipeline.classifier.name
        (varied if seen[classifier] < KEEP_PER_CLASSIFIER else alike).append(trial)
        seen[classifier] += 1
    return varied + alike


def keeping_models(
    trials: Iterable[Trial], metric: Metric, *, prefer_faster: bool = True
) -> list[Trial]:
    """The trials whose fold models are kept: the ensemble's candidates, and the best,
    whose fold model may stand in for a refit that would not fit."""
    trials = list(trials)
    candidates = ensemble_candidates(trials, metric, prefer_faster=prefer_faster)
    best = rank(trials, metric, prefer_faster=prefer_faster)[:1]
    return candidates + [t for t in best if t not in candidates]


def keeping_predictions(
    trials: Iterable[Trial], metric: Metric, *, prefer_faster: bool = True
) -> list[Trial]:
    """The trials whose out-of-fold predictions are kept: the KEEP_PREDICTIONS best and
    the ensemble's candidates, however far down the ranking."""
    trials = list(trials)
    best = rank(trials, metric, prefer_faster=prefer_faster)[:KEEP_PREDICTIONS]
    candidates = ensemble_candidates(trials, metric, prefer_faster=prefer_faster)
    return best + [t for t in candidates if t not in best]


class History:
    """All trials of a search, in the order they finished.

    Equal scores rank the faster trial first, or with ``prefer_faster=False`` the
    earlier one (times vary between runs; the order of trials need not).
    """

    def __init__(self, metric: Metric, *, prefer_faster: bool = True):
        self.metric = metric
        self.prefer_faster = prefer_faster
        self.trials: list[Trial] = []

    def __len__(self) -> int:
        return len(self.trials)

    def add(self, trial: Trial) -> None:
        self.trials.append(trial)
        if trial.oof_proba is not None:
            self._forget_predictions_beyond()
        if trial.models:
            self._forget_models_beyond()

    def _forget_models_beyond(self) -> None:
        kept = {id(t) for t in keeping_models(self.trials, self.metric, **self._ties)}
        for index, trial in enumerate(self.trials):
            if trial.models and id(trial) not in kept:
                self.trials[index] = dataclasses.replace(trial, models=())

    def _forget_predictions_beyond(self) -> None:
        kept = {id(t) for t in keeping_predictions(self.trials, self.metric, **self._ties)}
        for index, trial in enumerate(self.trials):
            if trial.oof_proba is not None and id(trial) not in kept:
                self.trials[index] = dataclasses.replace(trial, oof_proba=None)

    def ranked(self) -> list[Trial]:
        """Successful trials validated on the most folds, best first (:func:`rank`)."""
        return rank(self.trials, self.metric, **self._ties)

    def ensemble_candidates(self) -> list[Trial]:
        """The trials an ensemble chooses among (:func:`ensemble_candidates`)."""
        return ensemble_candidates(self.trials, self.metric, **self._ties)

    def models_bar(self) -> float | None:
        """What a first look must score above, as the metric's objective, to take a place
        among the ensemble's candidates: the worst first look's there, once they are
        KEEP_MODELS; before, None. Infinity once the candidates are two full evaluations
        or more and no look: on medium data a first look validates other rows than they,
        and the ensemble no longer chooses among looks."""
        candidates = self.ensemble_candidates()
        looks = [self.metric.objective(t.score) for t in candidates if t.fidelity != FULL]
        if not looks and len(candidates) >= 2:
            return math.inf
        if len(candidates) < KEEP_MODELS:
            return None
        return min(looks)

    @property
    def _ties(self) -> dict[str, bool]:
        return {"prefer_faster": self.prefer_faster}

    def best(self) -> Trial | None:
        ranked = self.ranked()
        return ranked[0] if ranked else None

    def failures(self) -> dict[str, int]:
        """How many trials ended with each reason, for an error message."""
        counts: dict[str, int] = {}
        for trial in self.trials:
            if not trial.ok:
                reason = (
                    f"{trial.status}: {trial.error.splitlines()[0] if trial.error else 'no score'}"
                )
                counts[reason] = counts.get(reason, 0) + 1
        return dict(sorted(counts.items(), key=lambda item: -item[1]))

    def leaderboard(self) -> pd.DataFrame:
        """Every trial, the successful ones best first, then the failed ones."""
        ranked = self.ranked()
        partial = sorted(
            (t for t in self.trials if t.ok and t not in ranked),
            key=lambda t: (-t.fidelity.cost, -self.metric.objective(t.score)),
        )
        order = ranked + partial + [t for t in self.trials if not t.ok]
        in_ranking = {id(t) for t in ranked}
        rows = [
            {
                "rank": rank if id(trial) in in_ranking else None,
                "pipeline": trial.pipeline.describe(),
                "score": trial.score,
                "score_std": trial.score_std,
                "fit_time": trial.fit_time,
                "duration": trial.duration,
                "status": trial.status,
                "fidelity": str(trial.fidelity),
                "origin": trial.origin,
                "finished_at": trial.finished_at,
                "hyperparameters": trial.pipeline.classifier.kwargs,
                "key": trial.pipeline.key,
                "error": trial.error.splitlines()[0] if trial.error else "",
            }
            for rank, trial in enumerate(order, start=1)
        ]
        frame = pd.DataFrame(rows, columns=list(_LEADERBOARD_COLUMNS))
        frame["rank"] = frame["rank"].astype("Int64")
        return frame.rename(
            columns={"score": self.metric.name, "score_std": f"{self.metric.name}_std"}
        )
