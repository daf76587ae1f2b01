"""The final model: the best pipeline that can be refitted on all rows in the time left."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np

from automl.history import History, Trial
from automl.runner import EvaluationRunner
from automl.search.loop import refit_estimate

#: Candidates tried, best first, before giving up.
_MAX_ATTEMPTS = 3


def refit_best(
    runner: EvaluationRunner,
    history: History,
    time_left: Callable[[], float],
    stand_in: Callable[[object], object | None] = lambda model: None,
) -> tuple[Trial, object]:
    """Refit the best trial whose expected refit time fits in ``time_left()``.

    ``time_left`` includes whatever overrun the budget allows for this last step.

    When none is expected to fit, the best trial that kept its fold model (large
    data) is used as it is, through ``stand_in`` (which makes it the model users get,
    or returns None if it cannot be); failing that, the fastest one is refitted
    anyway. When every refit tried fails (a time limit on a busy machine), that fold
    model stands in too. Either way with a warning: a model a little worse, or a
    little late, beats no model.

    Raises
    ------
    RuntimeError
        If no evaluation succeeded or no refit did, with the reasons grouped.
    """
    ranked = history.ranked()
    if not ranked:
        raise RuntimeError(_all_failed_message(history))
    fitting = [t for t in ranked if refit_estimate(t, runner.folds) <= time_left()]
    forced = not fitting
    if forced:
        found = _fold_model(ranked, stand_in, runner.folds, "would not fit in the time left")
        if found is not None:
            return found
        fitting = [min(ranked, key=lambda t: refit_estimate(t, runner.folds))]
        warnings.warn(
            "No pipeline is expected to refit in the time left; refitting the fastest "
            f"({fitting[0].pipeline.describe()}), which may overrun the time budget.",
            UserWarning,
            stacklevel=3,
        )
    errors = []
    for trial in fitting[:_MAX_ATTEMPTS]:
        if errors and time_left() <= 0:
            break  # another attempt would overrun the budget
        limit = (
            max(time_left(), 2.0 * refit_estimate(trial, runner.folds)) if forced else time_left()
        )
        outcome = runner.refit(trial.pipeline, time_limit=limit)
        if outcome.status == "ok":
            return trial, outcome.value
        reason = (outcome.error or "no reason").splitlines()[0]
        errors.append(f"{trial.pipeline.describe()}: {outcome.status}: {reason}")
    found = _fold_model(ranked, stand_in, runner.folds, f"failed ({errors[0]})")
    if found is not None:
        return found
    raise RuntimeError("Refitting the best pipelines on all rows failed:\n" + "\n".join(errors))


def _fold_model(ranked, stand_in, folds, why: str) -> tuple[Trial, object] | None:
    """The best trial's fold model made the final model by ``stand_in``, with a warning;
    None when no trial kept one (or ``stand_in`` cannot use it)."""
    for trial in (t for t in ranked if t.models):
        model = stand_in(trial.models[0])
        if model is not None:
            warnings.warn(
                f"Refitting on all rows {why}: the model fitted during the search "
                f"({trial.pipeline.describe()}, on {_share_of_rows(trial, folds):.0%} of the "
                "rows) is used instead. A larger time_budget leaves time for the refit.",
                UserWarning,
                stacklevel=4,
            )
            return trial, model
    return None


def _share_of_rows(trial: Trial, folds) -> float:
    return folds.train_fraction * trial.fidelity.rows


def _all_failed_message(history: History) -> str:
    if all(t.status == "cancelled" for t in history.trials):  # cut short by the budget
        return (
            "No pipeline evaluation finished within the time budget. Increase time_budget "
            "(the data may be too large for it, or the machine busy) or set max_evals."
        )
    reasons = "\n".join(f"  {count} x {reason}" for reason, count in history.failures().items())
    return f"All {len(history)} evaluated pipelines failed:\n{reasons}"


def refit_ensemble(
    runner: EvaluationRunner,
    members: Sequence[tuple[Trial, float]],
    time_left: Callable[[], float],
    *,
    n_jobs: int,
) -> list[tuple[Trial, object, float]]:
    """Refit the ensemble's members on all rows, ``n_jobs`` at a time, in the time left.

    Members are refitted heaviest first; one that is not expected to fit in the time
    left, or fails, is left out with a warning and the others' weights grow to make
    up for it. Returns ``(trial, fitted pipeline, weight)`` of the refitted members,
    heaviest first (empty if none could be refitted).
    """
    ranked = sorted(members, key=lambda member: -member[1])
    expected = np.cumsum([refit_estimate(t, runner.folds) for t, _ in ranked]) / n_jobs
    fitting = [member for member, seconds in zip(ranked, expected, strict=True)
               if seconds <= time_left()]  # fmt: skip
    outcomes = runner.refit_all(
        [trial.pipeline for trial, _ in fitting], n_jobs=n_jobs, time_limit=time_left
    )
    refitted = [
        (trial, outcome.value, weight)
        for (trial, weight), outcome in zip(fitting, outcomes, strict=True)
        if outcome is not None and outcome.status == "ok"
    ]
    left_out = len(members) - len(refitted)
    if left_out and refitted:
        warnings.warn(
            f"{left_out} of the {len(members)} ensemble members could not be refitted in the "
            "time left and were left out; a larger time_budget keeps them.",
            UserWarning,
            stacklevel=3,
        )
    total = sum(weight for _, _, weight in refitted)
    return [(trial, model, weight / total) for trial, model, weight in refitted]
