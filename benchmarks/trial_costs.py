"""Where a warm and a cold search spend their time: evaluations and seconds by origin.

    python benchmarks/trial_costs.py --datasets dermatology,breast_cancer [--budget 60] [--seed 0]

For each dataset, the benchmark's training split (as ``run.py``) is searched warm
(the knowledge base less the dataset) and cold, one core; each run prints, per
origin of its trials (seed, promoted, hybrid, random, ...), how many there were,
their total and median seconds, and the classifier families tried most.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from run import _automl, _dataset_names, _load, parse_search_arguments, split


def main() -> None:
    args = parse_search_arguments(__doc__.splitlines()[0], budget=60.0)
    for name in _dataset_names(args.datasets):
        X_train, _, y_train, _ = split(*_load(args.data_dir, name), seed=args.seed)
        for system in ("automl", "automl-cold"):
            trials = _automl(system, args, name).fit(X_train, y_train).history_.trials
            print(f"{name} {system}: {len(trials)} evaluations")
            for origin, seconds in _seconds_by_origin(trials).items():
                print(f"  {origin:10} {len(seconds):4}  total {np.nansum(seconds):6.1f} s"
                      f"  median {np.nanmedian(seconds):5.2f} s")  # fmt: skip
            families = Counter(t.pipeline.classifier.name for t in trials).most_common(6)
            print("  families:", ", ".join(f"{family} {n}" for family, n in families))


def _seconds_by_origin(trials) -> dict[str, list[float]]:
    seconds: dict[str, list[float]] = {}
    for trial in trials:
        seconds.setdefault(trial.origin, []).append(trial.duration)
    return seconds


if __name__ == "__main__":
    main()
