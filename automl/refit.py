"""The final model: the best pipelines refitted on all rows in the time left, or, where a
refit would not fit, the models fitted during the search."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import NamedTuple

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
    """The best trial that can be delivered in ``time_left()``, and its final model.

    ``time_left`` includes whatever overrun the budget allows for this last step.

    In rank order, a trial is refitted on all rows when its refit is expected to fit
    in the time left; otherwise, if it kept its fold models, the first is used as it
    is, through ``stand_in`` (which makes it the model users get, or returns None if it
    cannot be), with a warning: measured on the rows every other trial was, it beats a
    refit of a pipeline ranked below it. When no trial can be delivered so, the fastest
    is refitted anyway, with a warning; when the refits tried fail (a time limit on a
    busy machine), the best fold model stands in. A model a little worse, or a little
    late, beats no model.

    Raises
    ------
    RuntimeError
        If no evaluation succeeded or no refit did, with the reasons grouped.
    """
    ranked = history.ranked()
    if not ranked:
        raise RuntimeError(_all_failed_message(history))
    errors: list[str] = []
    for trial in ranked:
        if refit_estimate(trial, runner.folds) <= time_left():
            if len(errors) == _MAX_ATTEMPTS or (errors and time_left() <= 0):
                break  # another attempt would overrun the budget
            outcome = runner.refit(trial.pipeline, time_limit=time_left())
            if outcome.status == "ok":
                return trial, outcome.value
            errors.append(_refit_error(trial, outcome))
        elif found := _fold_model(
            [trial], stand_in, runner.folds, "would not fit in the time left"
        ):
            return found
    if not errors:  # none fits, none kept a fold model: the fastest, late
        fastest = min(ranked, key=lambda t: refit_estimate(t, runner.folds))
        warnings.warn(
            "No pipeline is expected to refit in the time left; refitting the fastest "
            f"({fastest.pipeline.describe()}), which may overrun the time budget.",
            UserWarning,
            stacklevel=3,
        )
        limit = max(time_left(), 2.0 * refit_estimate(fastest, runner.folds))
        outcome = runner.refit(fastest.pipeline, time_limit=limit)
        if outcome.status == "ok":
            return fastest, outcome.value
        errors.append(_refit_error(fastest, outcome))
    found = _fold_model(ranked, stand_in, runner.folds, f"failed ({errors[0]})")
    if found is not None:
        return found
    raise RuntimeError("Refitting the best pipelines on all rows failed:\n" + "\n".join(errors))


def _refit_error(trial: Trial, outcome) -> str:
    reason = (outcome.error or "no reason").splitlines()[0]
    return f"{trial.pipeline.describe()}: {outcome.status}: {reason}"


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


class Member(NamedTuple):
    """An ensemble member as delivered: its model, refitted on all rows or standing in."""

    trial: Trial
    model: object
    weight: float
    refitted: bool


def refit_ensemble(
    runner: EvaluationRunner,
    members: Sequence[tuple[Trial, float]],
    time_left: Callable[[], float],
    *,
    n_jobs: int,
    stand_in: Callable[[object], object | None] = lambda model: None,
) -> list[Member]:
    """The ensemble's members refitted on all rows, ``n_jobs`` at a time, in the time left.

    Members are refitted heaviest first, each that is expected to fit in what the
    refits before it leave. One that is not, or fails, votes with its fold model
    through ``stand_in`` (as in :func:`refit_best`): on large data the ensemble was
    chosen on those very models' predictions. One with no fold model is left out with
    a warning, and the others' weights grow to make up for it. Returns the members,
    heaviest first (empty if none could be delivered).
    """
    ranked = sorted(members, key=lambda member: -member[1])
    planned, seconds = [], 0.0
    for trial, _ in ranked:
        expected = refit_estimate(trial, runner.folds) / n_jobs
        if seconds + expected <= time_left():
            planned.append(trial)
            seconds += expected
    outcomes = runner.refit_all(
        [trial.pipeline for trial in planned], n_jobs=n_jobs, time_limit=time_left
    )
    refitted = {
        id(trial): outcome.value
        for trial, outcome in zip(planned, outcomes, strict=True)
        if outcome is not None and outcome.status == "ok"
    }
    delivered = []
    for trial, weight in ranked:
        if id(trial) in refitted:
            delivered.append(Member(trial, refitted[id(trial)], weight, refitted=True))
        elif trial.models and (model := stand_in(trial.models[0])) is not None:
            delivered.append(Member(trial, model, weight, refitted=False))
    stood_in = sum(not member.refitted for member in delivered)
    left_out = len(members) - len(delivered)
    if (left_out or stood_in) and delivered:
        warnings.warn(
            f"{left_out + stood_in} of the {len(members)} ensemble members could not be "
            f"refitted on all rows in the time left: {stood_in} vote with the model fitted "
            f"during the search, {left_out} were left out. A larger time_budget refits them.",
            UserWarning,
            stacklevel=3,
        )
    total = sum(member.weight for member in delivered)
    return [member._replace(weight=member.weight / total) for member in delivered]
