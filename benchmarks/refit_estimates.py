"""How well the time a search keeps for its final refits covers them: estimate against seconds.

    python benchmarks/refit_estimates.py --datasets sleep,letter,krkopt [--budget 10] [--seed 0]

For each dataset, the benchmark's training split (as ``run.py``) is searched warm, one
core. Each refit of the final model on all rows is timed and printed beside what the
search expected it to take (:func:`automl.search.loop.refit_estimate`, from the trial's
fidelity, also printed), and the fit's seconds beside the time the last trial ended: a
ratio above 1 is a refit that took longer than planned, a low one a search that
stopped earlier than it needed to.
"""

from __future__ import annotations

import time

from run import _automl, _dataset_names, _load, parse_search_arguments, split

import automl.refit
from automl.runner import EvaluationRunner


def main() -> None:
    args = parse_search_arguments(__doc__.splitlines()[0], budget=10.0)
    estimates, refits = _instrument()
    for name in _dataset_names(args.datasets):
        X_train, _, y_train, _ = split(*_load(args.data_dir, name), seed=args.seed)
        estimates.clear()
        refits.clear()
        start = time.monotonic()
        model = _automl("automl", args, name).fit(X_train, y_train)
        seconds = time.monotonic() - start
        last = model.leaderboard()["finished_at"].max()
        print(f"{name}: fit {seconds:.2f} s, last trial ended at {last:.2f} s")
        for pipelines, took in refits:
            expected = sum(estimates[p.key][0] for p in pipelines)
            fidelities = ", ".join(estimates[p.key][1] for p in pipelines)
            print(f"  refit of {len(pipelines)} ({fidelities}): expected {expected:.2f} s, "
                  f"took {took:.2f} s, ratio {took / expected:.2f}")  # fmt: skip


def _instrument() -> tuple[dict, list]:
    """Record every refit estimate the final model's choice makes, by pipeline key, and
    every batch of refits with its seconds."""
    estimates: dict[str, tuple[float, str]] = {}
    refits: list[tuple[list, float]] = []
    estimate = automl.refit.refit_estimate
    refit_all = EvaluationRunner.refit_all

    def recorded_estimate(trial, folds):
        estimates[trial.pipeline.key] = (seconds := estimate(trial, folds), str(trial.fidelity))
        return seconds

    def timed_refit_all(runner, pipelines, **options):
        start = time.monotonic()
        outcomes = refit_all(runner, pipelines, **options)
        refits.append((list(pipelines), time.monotonic() - start))
        return outcomes

    automl.refit.refit_estimate = recorded_estimate
    EvaluationRunner.refit_all = timed_refit_all
    return estimates, refits


if __name__ == "__main__":
    main()
