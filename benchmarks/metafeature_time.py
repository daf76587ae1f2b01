"""Time the meta-features (issue 4: about 2 s at most on 100,000 rows x 100 columns).

    python benchmarks/metafeature_time.py [--datasets kddcup,sleep,fars]

Times a generated 100,000 x 100 table (numbers, a string column, missing values) and
the given reference datasets (the largest by default); prints the best of three runs.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from run import DEFAULT_DATASETS

from automl.build_knowledge import load_reference
from automl.data import check_training_data
from automl.metafeatures import compute_metafeatures


def best_of_three(X, y) -> float:
    data = check_training_data(X, y)
    times = []
    for _ in range(3):
        start = time.perf_counter()
        compute_metafeatures(data.X, data.y_codes, data.profile)
        times.append(time.perf_counter() - start)
    return min(times)


def generated(n_rows: int = 100_000, n_columns: int = 100):
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(n_rows, n_columns - 1))).add_prefix("x")
    X.iloc[rng.random(n_rows) < 0.05, 3] = np.nan
    X["text"] = rng.choice(["a", "b", "c", None], n_rows)
    y = (X["x0"] + rng.normal(size=n_rows) > 0).astype(int)
    return X, y


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="kddcup,sleep,fars")
    parser.add_argument("--data-dir", default=str(DEFAULT_DATASETS))
    args = parser.parse_args()
    X, y = generated()
    print(f"generated 100,000 x 100: {best_of_three(X, y):.2f} s")
    for name in args.datasets.split(","):
        X, y = load_reference(args.data_dir, name)
        print(f"{name} {X.shape[0]:,} x {X.shape[1]}: {best_of_three(X, y):.2f} s")


if __name__ == "__main__":
    main()
