"""What one search spent its evaluations on: counts and seconds by fidelity, status and
origin, the time spent outside evaluations, and the best pipelines at full and at lower
fidelity.

For diagnosing a strategy on one dataset (75/25 split as in run.py, cold start):

    python benchmarks/trials.py vowel --budget 120 --search hybrid
"""

from __future__ import annotations

import argparse
import collections

from run import DEFAULT_DATASETS, _load
from sklearn.model_selection import train_test_split


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset")
    parser.add_argument("--data-dir", default=str(DEFAULT_DATASETS))
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--search", default="hybrid")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--top", type=int, default=8)
    args = parser.parse_args(argv)

    from automl import AutoClassifier

    X, y = _load(args.data_dir, args.dataset)
    X_train, _, y_train, _ = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=args.seed
    )
    model = AutoClassifier(
        time_budget=args.budget, search=args.search, warm_start=False, random_state=args.seed
    ).fit(X_train, y_train)
    trials = model.history_.trials
    counts = collections.Counter((str(t.fidelity), t.status, t.origin) for t in trials)
    seconds = collections.Counter()
    for t in trials:
        seconds[str(t.fidelity), t.status, t.origin] += t.duration
    for (fidelity, status, origin), n in sorted(counts.items()):
        spent = seconds[fidelity, status, origin]
        print(f"{n:4d}  {spent:6.1f} s  {fidelity:12} {status:9} {origin}")
    # With n_jobs=1 the evaluations run one after another: the rest of the time until
    # the last one finished went to the fit's start and to the search itself (its
    # models, breeding, bookkeeping).
    busy = sum(seconds.values())
    elapsed = max(t.finished_at for t in trials)
    print(f"evaluating {busy:.1f} s; starting and searching {elapsed - busy:.1f} s")
    for label, full in (("full", True), ("lower", False)):
        ok = [t for t in trials if t.ok and (t.fidelity.cost == 1.0) == full]
        best = sorted(ok, key=lambda t: -model.history_.metric.objective(t.score))
        print(f"-- best at {label} fidelity")
        for t in best[: args.top]:
            print(f"{t.score:.4f}  {t.finished_at:6.1f} s  {t.origin:9} {t.pipeline.describe()}")


if __name__ == "__main__":
    main()
