"""Small real data sets with the mess real tables have, for the tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
SHARED_DATASETS = REPO.parent / "shared" / "datasets"


def mixed_frame(n_rows: int = 160, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Numbers with gaps, strings with gaps, a boolean and a many-valued column; string labels."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.normal(40, 10, n_rows),
            "visits": rng.integers(0, 6, n_rows),
            "plan": rng.choice(["basic", "plus", "pro"], n_rows),
            "city": rng.choice([f"c{i}" for i in range(25)], n_rows),
            "member": rng.random(n_rows) < 0.4,
        }
    )
    signal = (frame["age"] - 40) / 10 + (frame["plan"] == "pro") * 1.5 - frame["member"] * 0.8
    labels = np.where(signal + rng.normal(0, 0.5, n_rows) > 0.2, "churn", "stay")
    frame.loc[rng.random(n_rows) < 0.1, "age"] = np.nan
    frame.loc[rng.random(n_rows) < 0.1, "plan"] = None
    return frame, labels
