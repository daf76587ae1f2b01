"""The loop that keeps the workers busy with a searcher's proposals within the budget.

It is asynchronous: a new proposal starts as soon as a worker is free, with no
barrier between generations. It stops early enough to leave the time that the
final refits need: of the best pipeline, and on a holdout split, of the other
members the ensemble would have. A proposal expected to outlast the time left (a
promotion: its cheaper evaluation tells its cost) is not started, and the searcher
is told so: at a short budget a doomed full evaluation would waste half the search.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

from automl.budget import Budget
from automl.evaluation import Folds
from automl.history import SKIPPED, History, Trial
from automl.runner import EvaluationRunner
from automl.search.base import Searcher

#: Seconds kept free besides the refit itself: collecting results, stopping workers,
#: choosing the ensemble. With 1.0 fits ended a median 0.93 s early at 10, 30 and 60 s,
#: a tenth of a 10 s budget unused; with 0.3, 0.24 s early at 10 s and none late
#: (benchmarks/results/short_margin_report.txt).
OVERHEAD_SECONDS = 0.3
#: How much slower a refit may be than the fold fits suggest.
REFIT_SAFETY = 1.3
#: The largest share of the budget kept for refitting the best pipeline on all rows,
#: when its fold model could stand in: on large data a refit may cost more than the
#: search it would cut short (a default LightGBM on 370,000 rows of kddcup, 40 s of 60).
REFIT_MAX_SHARE = 0.25
#: The largest share of the budget kept for refitting the ensemble's other members.
ENSEMBLE_MAX_SHARE = 0.15


def refit_estimate(trial: Trial, folds: Folds) -> float:
    """Seconds a fit of ``trial``'s pipeline on all rows is expected to take."""
    per_fold = trial.fit_time / trial.fidelity.n_folds(len(folds))
    return REFIT_SAFETY * per_fold / folds.train_fraction / trial.fidelity.rows


def run_search(
    searcher: Searcher,
    runner: EvaluationRunner,
    history: History,
    *,
    budget: Budget,
    n_jobs: int,
    clock: Callable[[], float],
    ensemble: Callable[[History], Sequence[tuple[Trial, float]]] = lambda history: (),
    on_trial: Callable[[History], None] = lambda history: None,
) -> History:
    """Evaluate proposals, ``n_jobs`` at a time, until the budget or the searcher runs out.

    It stops in time to refit on all rows the best pipeline and the other members
    (with weights) that ``ensemble`` of the history would have now.
    """
    exhausted = False

    def search_end() -> float:
        if not math.isfinite(budget.end):
            return math.inf
        members = [trial for trial, _ in ensemble(history)]
        return _search_end(history, runner.folds, budget, members, n_jobs, clock())

    stop_at = search_end()
    while True:
        while not exhausted and runner.n_running < n_jobs and clock() < stop_at:
            if budget.evals_left(len(history) + runner.n_running) <= 0:
                break
            proposal = searcher.ask()
            if proposal is None:
                exhausted = True
                break
            time_limit = min(budget.eval_time_limit, stop_at - clock())
            if proposal.expected_seconds > time_limit:  # stopped before it ends: not started
                pipeline, origin, fidelity = proposal.pipeline, proposal.origin, proposal.fidelity
                searcher.tell(Trial(0, pipeline, origin, SKIPPED, fidelity=fidelity))
                continue
            runner.submit(proposal, time_limit=time_limit, models_bar=history.models_bar())
        if runner.n_running == 0:
            return history
        for trial in runner.wait(timeout=max(0.0, stop_at - clock())):
            history.add(trial)
            # The history alone decides whose fold models and predictions stay in memory:
            # a searcher keeps the trials it was told of for the whole search.
            searcher.tell(dataclasses.replace(trial, models=(), oof_proba=None))
            on_trial(history)
        stop_at = search_end()  # before the clock: choosing the ensemble takes time too
        if clock() >= stop_at:
            runner.cancel()
            exhausted = True


def _search_end(
    history: History,
    folds: Folds,
    budget: Budget,
    members: Sequence[Trial],
    n_jobs: int,
    now: float,
) -> float:
    best = history.best()
    if best is None:
        return budget.end - OVERHEAD_SECONDS
    refit = refit_estimate(best, folds)
    # A fold model fitted on all training rows of its fold saw 80% of the rows and stands
    # in well; one of a look at a third of them falls far short of its refit (krkopt at
    # 30 s: test log loss 0.84 standing in, 0.51 refitted), so for it time is kept
    # whenever the final step would still refit it: in the time left and the grace.
    # Searching on instead left letter at 10 s with its third-of-the-rows LightGBM (0.33
    # against 0.12 refitted; its refit took 3 s of the 7.9 estimated on a busy core).
    if best.fidelity.on_all_rows:
        room = min(budget.time_left(now), REFIT_MAX_SHARE * budget.time_budget)
    else:
        room = budget.last_step_time_left(now)
    if best.models and refit > room:
        # Too late to refit it, or a refit would cost the search too much: its fold
        # model will stand in (unless time is left for the refit), so search on; the
        # other members' fold models stand in too, where their refits would not fit.
        return budget.end - OVERHEAD_SECONDS
    others = sum(refit_estimate(t, folds) for t in members if t is not best) / n_jobs
    extra = min(others, ENSEMBLE_MAX_SHARE * budget.time_budget)
    return budget.end - OVERHEAD_SECONDS - refit - extra
