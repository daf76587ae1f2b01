"""Evaluations per minute and scheduling overhead: 1 or 2 local workers, a 2-worker Dask cluster.

Each setting runs one ``fit`` in a fresh process on the same dataset, with random
search and the same seed (so that the stream of candidates is alike), and records:

- evaluations per minute of search;
- overhead: the share of the workers' time not spent inside evaluations,
  ``1 - sum(evaluation durations) / (workers x search seconds)``, where the search
  seconds run from the start of ``fit`` (data checks, starting the fork server,
  sharing or scattering the data included) to the end of the last evaluation.

The Dask cluster (``LocalCluster``, two single-threaded worker processes on
loopback) is started before ``fit`` starts, as a user's cluster would be.
Needs ``pip install ".[benchmark,dask]"`` and two free cores.

    python benchmarks/throughput.py --dataset waveform_40 --budget 60 \\
        --out benchmarks/results/throughput.jsonl
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from run import DEFAULT_DATASETS, _load

SETTINGS = {"local-1": (1, False), "local-2": (2, False), "dask-2": (2, True)}


def measure(X, y, *, budget: float, n_jobs: int, scheduler: str | None, seed: int) -> dict:
    from automl import AutoClassifier

    model = AutoClassifier(
        time_budget=budget, n_jobs=n_jobs, scheduler=scheduler, search="random",
        warm_start=False, random_state=seed,
    ).fit(X, y)  # fmt: skip
    trials = model.history_.trials
    search_seconds = max(t.finished_at for t in trials)
    busy = sum(t.duration for t in trials)
    return {
        "n_evaluations": len(trials),
        "evaluations_per_minute": 60 * len(trials) / search_seconds,
        "search_seconds": search_seconds,
        "busy_seconds": busy,
        "overhead": 1 - busy / (n_jobs * search_seconds),
        "fit_time": model.fit_time_,
    }


def run_setting(setting: str, args: argparse.Namespace) -> dict:
    n_jobs, on_dask = SETTINGS[setting]
    X, y = _load(args.data_dir, args.dataset)
    common = dict(budget=args.budget, n_jobs=n_jobs, seed=args.seed)
    if not on_dask:
        return measure(X, y, scheduler=None, **common)
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        return measure(X, y, scheduler=cluster.scheduler_address, **common)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="waveform_40")
    parser.add_argument("--data-dir", default=str(DEFAULT_DATASETS))
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--settings", default=",".join(SETTINGS))
    parser.add_argument("--out", default="benchmarks/results/throughput.jsonl")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_setting(args.one, args)))
        return 0
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    for setting in args.settings.split(","):
        command = [sys.executable, __file__, "--one", setting, *_passed_on(args)]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{setting} failed:\n{done.stderr[-3000:]}")
        result = {
            "dataset": args.dataset, "budget": args.budget, "setting": setting,
            **json.loads(done.stdout.strip().splitlines()[-1]),
        }  # fmt: skip
        with open(args.out, "a") as file:
            file.write(json.dumps(result) + "\n")
        print(
            f"{setting:8} {result['n_evaluations']:4d} evaluations "
            f"{result['evaluations_per_minute']:6.1f}/min  overhead {result['overhead']:.1%}  "
            f"fit {result['fit_time']:.1f} s",
            flush=True,
        )
    return 0


def _passed_on(args: argparse.Namespace) -> list[str]:
    return [
        "--dataset", args.dataset, "--data-dir", args.data_dir,
        "--budget", str(args.budget), "--seed", str(args.seed),
    ]  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
