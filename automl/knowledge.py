"""The knowledge base in ``metadata/``: what worked on the reference datasets.

Three text files and a manifest, written by :mod:`automl.build_knowledge`:

- ``datasets.csv``: one row per reference dataset, its size and meta-features;
- ``pipelines.jsonl``: the best pipelines a long search found on each dataset, and
  each classifier's default pipeline;
- ``performance.csv``: the cross-validated score of the best pipeline of each dataset
  and of the defaults (the candidate portfolio) on every dataset, empty where it failed;
- ``fit_times.csv``: the seconds each of those evaluations spent fitting, which tell
  cheap candidates from dear ones.

This module only reads them, and answers the questions a warm start asks: which
reference datasets are nearest to new data, what worked best on each, which few
candidates cover them best together (a greedy portfolio), and what each candidate
would cost on the new data.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from importlib.abc import Traversable
from io import StringIO
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from automl.grammar import PipelineSpec
from automl.metafeatures import METAFEATURE_NAMES, METAFEATURE_VERSION
from automl.metrics import METRICS

SCHEMA_VERSION = 4
DATASETS_FILE, PIPELINES_FILE, PERFORMANCE_FILE, FIT_TIMES_FILE = (
    "datasets.csv",
    "pipelines.jsonl",
    "performance.csv",
    "fit_times.csv",
)
#: Of each dataset's best pipelines, how many join the candidate portfolio.
PORTFOLIO_PER_DATASET = 1
#: The portfolio is scored on a subsample of at most this many rows, 3-fold, with
#: this limit per evaluation: it ranks candidates, it does not need their best score.
#: The portfolio starts short searches, so a candidate that needs more than the limit
#: on so few rows is one a warm start cannot use; it counts as failed there.
PORTFOLIO_ROWS, PORTFOLIO_FOLDS, PORTFOLIO_TIME_LIMIT = 1000, 3, 10.0
#: Datasets whose row counts differ by at most this share are taken as versions of one
#: another, whatever their labels (``mushroom`` and ``agaricus_lepiota``; ``allhyper``
#: and ``allbp``, one table with two targets) ...
NEAR_DUPLICATE_ROWS = 0.01
#: ... and so are two datasets when this share of the smaller one's distinct rows is in
#: the other (``glass2``, a subset of ``glass``), estimated from bottom-k sketches: the
#: ``SKETCH_SIZE`` smallest hashes of each dataset's distinct rows.
NEAR_DUPLICATE_CONTAINMENT, SKETCH_SIZE = 0.5, 128


def metadata_root() -> Traversable:
    """The folder of the knowledge base, installed or in a source checkout."""
    try:
        return resources.files("automl.metadata")
    except ModuleNotFoundError:  # a source checkout, where setuptools' mapping is not in place
        return Path(__file__).resolve().parent.parent / "metadata"


def read_manifest(root: Traversable | Path | None = None) -> dict[str, Any]:
    """The knowledge base's manifest: versions, datasets, budgets."""
    return json.loads((root or metadata_root()).joinpath("manifest.json").read_text())


@dataclass(frozen=True)
class Found:
    """A pipeline that the search on a reference dataset ranked ``rank`` (0 is best)."""

    dataset: str
    rank: int
    score: float
    id: str


@dataclass(frozen=True, eq=False)
class KnowledgeBase:
    """Reference datasets, their best pipelines, and how the portfolio did on each.

    ``scores[i, j]`` is the cross-validated score of portfolio candidate
    ``portfolio[i]`` on dataset ``datasets.index[j]`` (NaN where it failed), and
    ``fit_times[i, j]`` the seconds its folds spent fitting there. ``defaults`` are
    the candidates that are a classifier's default pipeline: no dataset found them.
    """

    datasets: pd.DataFrame
    pipelines: Mapping[str, PipelineSpec]
    found: tuple[Found, ...]
    portfolio: tuple[str, ...]
    scores: np.ndarray
    fit_times: np.ndarray
    defaults: frozenset[str] = frozenset()

    @property
    def regret(self) -> np.ndarray:
        """Per dataset, 0 for the best candidate's score, 1 for the worst or a failure."""
        return _normalised_regret(self.scores, self.datasets["metric"].to_numpy())

    @classmethod
    def load(cls, root: Traversable | Path | None = None) -> KnowledgeBase:
        """The knowledge base in ``root`` (the installed ``metadata/`` by default).

        Raises
        ------
        ValueError
            If it was built with other meta-features or another schema, or a value
            a warm start needs is missing; rebuild it.
        """
        root = root or metadata_root()
        manifest = read_manifest(root)
        if manifest.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(
                f"The knowledge base has schema {manifest.get('schema_version')!r}; this "
                f"automl reads schema {SCHEMA_VERSION}. {_REBUILD}"
            )
        if not manifest.get("datasets"):
            return cls.empty()
        if manifest.get("metafeature_version") != METAFEATURE_VERSION:
            raise ValueError(
                f"The knowledge base holds meta-features of version "
                f"{manifest.get('metafeature_version')!r}; this automl computes version "
                f"{METAFEATURE_VERSION}. {_REBUILD}"
            )
        # Read as text: a sketch of one hash that is all digits must not become a number.
        datasets = _read_csv(root, DATASETS_FILE, dtype={"row_sketch": str}).set_index("dataset")
        _check_datasets(datasets)
        records = [json.loads(line) for line in _lines(root, PIPELINES_FILE)]
        pipelines = {r["id"]: PipelineSpec.from_dict(r["pipeline"]) for r in records}
        found = tuple(
            Found(r["dataset"], int(r["rank"]), float(r["score"]), r["id"])
            for r in records
            if not r.get("default")
        )
        scores, fit_times = (
            _read_csv(root, file).set_index("candidate").reindex(columns=datasets.index)
            for file in (PERFORMANCE_FILE, FIT_TIMES_FILE)
        )
        fit_times = fit_times.reindex(scores.index)
        return cls(
            datasets,
            pipelines,
            found,
            tuple(scores.index),
            *(m.to_numpy(float) for m in (scores, fit_times)),
            frozenset(r["id"] for r in records if r.get("default")),
        )

    @classmethod
    def empty(cls) -> KnowledgeBase:
        columns = ["dataset", "n_rows", "n_classes", "metric", *METAFEATURE_NAMES]
        nothing = np.empty((0, 0))
        return cls(pd.DataFrame(columns=columns).set_index("dataset"), {}, (), (), nothing, nothing)

    def __len__(self) -> int:
        return len(self.datasets)

    def without(self, names: Iterable[str]) -> KnowledgeBase:
        """This knowledge base less datasets ``names``, their near-duplicates, and what
        they contributed: for leave-one-dataset-out evaluations.

        A portfolio candidate stays only if a kept dataset would have contributed it
        too, or it is a default, and the regrets are normalised over the kept
        candidates alone, so that nothing of the left-out datasets shapes the portfolio.
        """
        dropped = set().union(*(self.near_duplicates(name) for name in names))
        kept_columns = ~self.datasets.index.isin(dropped)
        found = tuple(f for f in self.found if f.dataset not in dropped)
        contributed = {f.id for f in found if f.rank < PORTFOLIO_PER_DATASET} | self.defaults
        kept_rows = np.array([c in contributed for c in self.portfolio], dtype=bool)
        return replace(
            self,
            datasets=self.datasets[kept_columns],
            found=found,
            portfolio=tuple(np.array(self.portfolio, dtype=object)[kept_rows]),
            scores=self.scores[np.ix_(kept_rows, kept_columns)],
            fit_times=self.fit_times[np.ix_(kept_rows, kept_columns)],
        )

    def near_duplicates(self, name: str) -> set[str]:
        """``name`` and every dataset that looks like another version of it: about as
        many rows, or mostly the same rows."""
        if name not in self.datasets.index:
            return {name}
        rows = self.datasets["n_rows"]
        close = np.abs(rows - rows[name]) <= NEAR_DUPLICATE_ROWS * rows[name]
        sketch = _sketch(self.datasets.loc[name])
        shared = [_containment(sketch, _sketch(other)) for _, other in self.datasets.iterrows()]
        return {
            name,
            *self.datasets.index[close | (np.array(shared) >= NEAR_DUPLICATE_CONTAINMENT)],
        }

    def nearest(self, metafeatures: Mapping[str, float], k: int) -> list[str]:
        """The ``k`` reference datasets nearest to ``metafeatures``, nearest first.

        Each meta-feature is scaled by its spread over the reference datasets, so
        that none dominates by its units.
        """
        if len(self) == 0:
            return []
        reference = self.datasets[list(METAFEATURE_NAMES)].to_numpy(float)
        query = np.array([metafeatures[name] for name in METAFEATURE_NAMES])
        spread = np.std(reference, axis=0)
        spread[spread == 0] = 1.0
        distance = np.linalg.norm((reference - query) / spread, axis=1)
        return list(self.datasets.index[np.argsort(distance, kind="stable")[:k]])

    def best_pipelines(self, dataset: str, n: int) -> list[PipelineSpec]:
        """The ``n`` best pipelines that the search found on ``dataset``, best first."""
        ranked = sorted((f for f in self.found if f.dataset == dataset), key=lambda f: f.rank)
        return [self.pipelines[f.id] for f in ranked[:n]]

    def fit_seconds(self, datasets: Sequence[str], n_rows: int) -> np.ndarray:
        """Each candidate's expected seconds of fitting on ``n_rows`` rows, in the portfolio's CV.

        The median of its fit times on ``datasets``, each scaled linearly from the rows
        it was timed on: rough, but it tells a ten-tree forest from a thousand-tree
        booster. A candidate that failed or ran out of time there counts as the limit.
        """
        columns = self.datasets.index.isin(datasets)
        timed_rows = np.minimum(self.datasets["n_rows"].to_numpy(float)[columns], PORTFOLIO_ROWS)
        seconds = np.nan_to_num(self.fit_times[:, columns], nan=PORTFOLIO_TIME_LIMIT)
        return np.median(seconds * (n_rows / timed_rows), axis=1)

    def greedy_portfolio(
        self,
        size: int,
        datasets: Sequence[str] | None = None,
        allowed: np.ndarray | None = None,
    ) -> list[PipelineSpec]:
        """``size`` candidates that together leave the least regret on ``datasets``.

        Greedy, as auto-sklearn 2.0's portfolio (Feurer et al., JMLR 2022): each
        step adds the candidate that most lowers the mean, over the datasets, of
        the least regret among the candidates chosen so far. ``allowed`` (a mask
        over :attr:`portfolio`) limits the choice to some candidates.
        """
        if not self.portfolio:
            return []
        allowed = np.ones(len(self.portfolio), bool) if allowed is None else allowed
        columns = self.datasets.index.isin(self.datasets.index if datasets is None else datasets)
        regret = self.regret[:, columns]
        chosen: list[int] = []
        least = np.ones(regret.shape[1])
        for _ in range(min(size, int(allowed.sum()))):
            after = np.minimum(regret, least).mean(axis=1)
            after[chosen] = np.inf
            after[~allowed] = np.inf
            best = int(np.argmin(after))
            chosen.append(best)
            least = np.minimum(least, regret[best])
        return [self.pipelines[self.portfolio[i]] for i in chosen]


_REBUILD = "Rebuild it with `automl kb build`, or fit with warm_start=False to start without it."


def _check_datasets(datasets: pd.DataFrame) -> None:
    """Every value that nearest datasets and regrets need is there and usable."""
    needed = ["n_rows", "metric", "distinct_rows", "row_sketch", *METAFEATURE_NAMES]
    missing = [column for column in needed if column not in datasets.columns]
    if missing:
        raise ValueError(f"The knowledge base's {DATASETS_FILE} lacks {missing}. {_REBUILD}")
    numbers = datasets[["n_rows", "distinct_rows", *METAFEATURE_NAMES]].apply(
        pd.to_numeric, errors="coerce"
    )
    # Vectorised: this runs in every warm-started fit.
    problems = [
        f"{numbers.index[i]}: {numbers.columns[j]}"
        for i, j in np.argwhere(~np.isfinite(numbers.to_numpy(float)))
    ]
    problems += [
        f"{name}: metric {metric!r}"
        for name, metric in datasets["metric"].items()
        if metric not in METRICS
    ]
    problems += [f"{name}: row_sketch" for name, v in datasets["row_sketch"].items() if pd.isna(v)]
    if problems:
        raise ValueError(
            f"The knowledge base's {DATASETS_FILE} has missing or invalid values "
            f"({', '.join(problems[:5])}{', ...' if len(problems) > 5 else ''}). {_REBUILD}"
        )


def _sketch(dataset: pd.Series) -> tuple[int, set[str]]:
    return int(dataset["distinct_rows"]), set(dataset["row_sketch"].split())


def _containment(first: tuple[int, set[str]], second: tuple[int, set[str]]) -> float:
    """Estimated share of the smaller dataset's distinct rows that the other one has.

    The Jaccard index of the two row sets is the share of the ``SKETCH_SIZE``
    smallest hashes of their union that both have (Broder 1997); from it and the set
    sizes follows the size of the intersection. Exact when both are small.
    """
    (size_a, a), (size_b, b) = first, second
    union = sorted(a | b)[:SKETCH_SIZE]
    if not union:
        return 0.0
    jaccard = sum(h in a and h in b for h in union) / len(union)
    shared = jaccard * (size_a + size_b) / (1 + jaccard)
    return min(1.0, shared / min(size_a, size_b))


def _normalised_regret(scores: np.ndarray, metrics: Sequence[str]) -> np.ndarray:
    """Per dataset, 0 for the best score and 1 for the worst; failures count as the worst."""
    regret = np.ones_like(scores)
    for j, metric in enumerate(metrics):
        column = scores[:, j]
        ok = np.isfinite(column)
        if not ok.any():
            continue
        objective = np.where(METRICS[metric].greater_is_better, column, -column)[ok]
        low, high = objective.min(), objective.max()
        regret[ok, j] = (high - objective) / (high - low) if high > low else 0.0
    return regret


def _read_csv(root: Traversable | Path, name: str, **options) -> pd.DataFrame:
    return pd.read_csv(StringIO(root.joinpath(name).read_text()), **options)


def _lines(root: Traversable | Path, name: str) -> list[str]:
    return [line for line in root.joinpath(name).read_text().splitlines() if line.strip()]
