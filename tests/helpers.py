"""Small real data sets with the mess real tables have, for the tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from automl.components import default_grammar
from automl.data import check_training_data
from automl.knowledge import Found, KnowledgeBase
from automl.metafeatures import METAFEATURE_NAMES

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


def handmade_knowledge(
    regret: list[list[float]],
    rows: list[int],
    sketches: list[str] | None = None,
    fit_times: list[list[float]] | None = None,
) -> KnowledgeBase:
    """Datasets d0, d1, ... with the given rows (all distinct, with disjoint sketches
    unless given) and 2 classes; candidate i found best on d_i, with ROC AUC 1 - regret,
    fitting in 1 s everywhere unless ``fit_times`` say otherwise."""
    grammar = default_grammar(check_training_data(*mixed_frame(200)).profile)
    pipelines = [grammar.default_pipeline(name) for name in grammar.options("classifier")]
    names = [f"d{j}" for j in range(len(rows))]
    datasets = pd.DataFrame(
        {"n_rows": rows, "n_classes": 2, "metric": "roc_auc", "distinct_rows": rows}
        | {"row_sketch": sketches or [f"{j:016x}" for j in range(len(rows))]}
        | {name: np.arange(len(rows), dtype=float) for name in METAFEATURE_NAMES},
        index=pd.Index(names, name="dataset"),
    )
    candidates = pipelines[: len(regret)]
    return KnowledgeBase(
        datasets,
        {p.key: p for p in candidates},
        tuple(Found(names[i], 0, 0.9, p.key) for i, p in enumerate(candidates)),
        tuple(p.key for p in candidates),
        1.0 - np.array(regret, dtype=float),
        np.ones((len(regret), len(rows))) if fit_times is None else np.array(fit_times, float),
    )
