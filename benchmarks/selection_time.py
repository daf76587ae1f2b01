"""Time ensemble selection on large out-of-fold tables, batch metric against one at a time.

    python benchmarks/selection_time.py

Ensemble selection scores every candidate at every pick (20 picks by default). On
a holdout of 10,000 rows this took seconds of the time budget when each score was
one call of the metric; ``Metric.many`` scores all candidates at once. Prints the
best of three runs of each, on generated probabilities.
"""

from __future__ import annotations

import dataclasses
import time
from types import SimpleNamespace

import numpy as np

from automl.ensemble import select_ensemble
from automl.metrics import get_metric

#: (validated rows, classes, candidates): binary and multiclass holdouts.
CASES = ((10_000, 2, 15), (10_000, 2, 40), (5_600, 18, 15), (10_000, 26, 40))
SIZE = 20


def best_of_three(candidates, y, metric) -> float:
    times = []
    for _ in range(3):
        start = time.perf_counter()
        select_ensemble(candidates, y, metric, SIZE)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    rng = np.random.default_rng(0)
    for n_rows, n_classes, n_candidates in CASES:
        y = rng.integers(0, n_classes, n_rows)
        candidates = [
            SimpleNamespace(oof_proba=rng.dirichlet(np.ones(n_classes), n_rows).astype(np.float32))
            for _ in range(n_candidates)
        ]
        metric = get_metric("auto", n_classes)
        one_at_a_time = dataclasses.replace(metric, batch=None)
        print(
            f"{n_rows} rows, {n_classes} classes, {n_candidates} candidates ({metric.name}): "
            f"batch {best_of_three(candidates, y, metric):.2f} s, one at a time "
            f"{best_of_three(candidates, y, one_at_a_time):.2f} s"
        )


if __name__ == "__main__":
    main()
