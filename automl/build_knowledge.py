"""Builds the knowledge base in ``metadata/`` from reference datasets (``automl kb build``).

Two phases, each a journal of JSON lines under ``metadata/journal/`` that gets one
line per finished dataset, so that a build that takes hours resumes where it
stopped (a torn last line, from a kill, is ignored and redone)::

    search:    for each reference dataset, smallest first:
                   a cold AutoClassifier search with a long budget; its best distinct
                   pipelines
    portfolio: candidates <- the best pipelines of every dataset, and the defaults
               for each dataset: cross-validate every candidate there (on at most
                   PORTFOLIO_ROWS rows, with a time limit each)
    write:     for each dataset: its meta-features (today's version) and a sketch
                   of its rows (to tell versions of one dataset apart)
               datasets.csv, pipelines.jsonl, performance.csv, fit_times.csv, manifest.json

A portfolio record made with other settings (folds, time limit, or rows where the
dataset has more than the smaller of the two row limits) is scored again; one that
lacks candidates (or their fit times) gets them scored and added.

Reference datasets are PMLB-style files: ``<name>.tsv.gz``, the label in column
``target``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from automl import __version__
from automl.budget import Budget
from automl.components import default_candidates, default_grammar, grammar_fingerprint
from automl.data import check_training_data
from automl.estimator import AutoClassifier
from automl.evaluation import FULL, Dataset, Fidelity, make_folds, subsample
from automl.grammar import FORMAT_VERSION, PipelineSpec
from automl.history import History, Proposal, Trial
from automl.knowledge import (
    DATASETS_FILE,
    FIT_TIMES_FILE,
    PERFORMANCE_FILE,
    PIPELINES_FILE,
    PORTFOLIO_FOLDS,
    PORTFOLIO_PER_DATASET,
    PORTFOLIO_ROWS,
    PORTFOLIO_TIME_LIMIT,
    SCHEMA_VERSION,
    SKETCH_SIZE,
)
from automl.metafeatures import METAFEATURE_NAMES, METAFEATURE_VERSION, compute_metafeatures
from automl.metrics import get_metric
from automl.runner import EvaluationRunner
from automl.search.loop import run_search
from automl.workers import WorkerPool

TARGET = "target"
#: Smaller datasets teach little: their scores are too noisy to rank pipelines.
MIN_ROWS = 100
#: Pipelines stored per dataset, best first, one per classifier: the best joins the
#: portfolio and seeds the warm start on data nearby; the others show what else came close.
TOP_PIPELINES = 3
SEARCH_JOURNAL, PORTFOLIO_JOURNAL = "search.jsonl", "portfolio.jsonl"


def search_budget(n_rows: int) -> float:
    """Seconds of search per reference dataset: more where each evaluation costs more."""
    if n_rows < 2000:
        return 60.0
    return 120.0 if n_rows < 50_000 else 300.0


def build_knowledge_base(
    datasets_dir: str | os.PathLike,
    out: str | os.PathLike,
    *,
    n_jobs: int = 1,
    budget_scale: float = 1.0,
    min_rows: int = MIN_ROWS,
    only: Sequence[str] | None = None,
    log: Callable[[str], None] = print,
) -> None:
    """Search, score the portfolio and write the knowledge base to ``out``.

    Parameters
    ----------
    datasets_dir : path
        A folder of ``<name>.tsv.gz`` files with a ``target`` column.
    out : path
        The knowledge base folder (``metadata/``); its ``journal/`` keeps progress.
    n_jobs : int
        Evaluations at once.
    budget_scale : float
        Multiplies :func:`search_budget`: below 1 for a quick, rougher build.
    min_rows : int
        Datasets with fewer rows are left out.
    only : sequence of str, optional
        Build from these datasets only.
    """
    out = Path(out)
    journal = out / "journal"
    journal.mkdir(parents=True, exist_ok=True)
    names = reference_datasets(datasets_dir, min_rows=min_rows, only=only)
    searches = _read_journal(journal / SEARCH_JOURNAL)
    for name in names:
        if name not in searches:
            log(f"search {name} ...")
            record = search_dataset(datasets_dir, name, n_jobs=n_jobs, scale=budget_scale)
            searches[name] = _append(journal / SEARCH_JOURNAL, record)
            log(f"search {name}: {record['n_evaluations']} evaluations, {record['best_score']:.4f}")
    searches = {name: searches[name] for name in names}
    candidates = portfolio_candidates(searches.values())
    scored = _read_journal(journal / PORTFOLIO_JOURNAL)
    for name in names:
        n_rows = searches[name]["n_rows"]
        unscored = _unscored(scored.get(name), candidates, n_rows)
        if unscored:
            log(f"portfolio {name}: {len(unscored)} of {len(candidates)} candidates ...")
            metric = searches[name]["metric"]
            record = score_portfolio(datasets_dir, name, unscored, metric, n_jobs=n_jobs)
            merged = _merged(scored.get(name), record, n_rows)
            scored[name] = _append(journal / PORTFOLIO_JOURNAL, merged)
    scored = {name: scored[name] for name in names}
    described = {name: describe(*load_reference(datasets_dir, name)) for name in names}
    source = f"{Path(datasets_dir).name} ({len(names)} datasets of {min_rows} rows or more)"
    write_knowledge_base(out, searches, candidates, scored, described, source=source)
    log(f"wrote the knowledge base of {len(names)} datasets to {out}")


def reference_datasets(
    datasets_dir: str | os.PathLike, *, min_rows: int = MIN_ROWS, only: Sequence[str] | None = None
) -> list[str]:
    """Names of the reference datasets with at least ``min_rows`` rows, smallest first."""
    paths = sorted(Path(datasets_dir).glob("*.tsv.gz"))
    if not paths:
        raise FileNotFoundError(
            f"No <name>.tsv.gz datasets in {datasets_dir}; point --datasets at a folder of them."
        )
    sizes = {p.name.removesuffix(".tsv.gz"): _count_rows(p) for p in paths}
    if only is not None:
        unknown = set(only) - set(sizes)
        if unknown:
            raise ValueError(f"No such datasets in {datasets_dir}: {sorted(unknown)}.")
        sizes = {name: sizes[name] for name in only}
    return sorted((n for n, rows in sizes.items() if rows >= min_rows), key=lambda n: (sizes[n], n))


def load_reference(datasets_dir: str | os.PathLike, name: str) -> tuple[pd.DataFrame, pd.Series]:
    frame = pd.read_csv(Path(datasets_dir) / f"{name}.tsv.gz", sep="\t")
    return frame.drop(columns=TARGET), frame[TARGET]


def describe(X: pd.DataFrame, y: pd.Series) -> dict:
    """The meta-features of a reference dataset, and a sketch of its rows.

    The sketch is how many distinct rows ``X`` has and the ``SKETCH_SIZE`` smallest
    of their hashes. Numbers are hashed as floats rounded to 6 digits, so that a
    column read as integers in one file and as floats in another hashes alike.
    """
    data = check_training_data(X, y)
    metafeatures = compute_metafeatures(data.X, data.y_codes, data.profile)
    numeric = X.select_dtypes("number").columns
    X = X.assign(**{column: X[column].astype(float).round(6) for column in numeric})
    hashes = np.unique(pd.util.hash_pandas_object(X, index=False).to_numpy())
    return {
        "distinct_rows": len(hashes),
        "row_sketch": " ".join(f"{h:016x}" for h in hashes[:SKETCH_SIZE]),
    } | metafeatures


def search_dataset(datasets_dir, name: str, *, n_jobs: int, scale: float) -> dict:
    """The best pipelines of a cold search on dataset ``name``, and what it cost."""
    X, y = load_reference(datasets_dir, name)
    data = check_training_data(X, y)
    budget = search_budget(len(y)) * scale
    # Cold (the knowledge base must not feed itself) and without an ensemble (only the
    # search's best pipelines are kept: refitting more would only take search time).
    model = AutoClassifier(
        time_budget=budget, n_jobs=n_jobs, random_state=0, warm_start=False, ensemble_size=1
    )
    model.fit(X, y)
    if model.interrupted_:  # a cut-short search must not pass for a finished one
        raise KeyboardInterrupt(f"the search on {name} was interrupted; it was not journaled")
    best = _distinct_best(model.history_, TOP_PIPELINES)
    return {
        "dataset": name,
        "n_rows": len(y),
        "n_features": int(X.shape[1]),
        "n_classes": data.profile.n_classes,
        "metric": model.metric_,
        "budget": budget,
        "n_evaluations": len(model.history_),
        "best_score": best[0].score,
        "best": [{"pipeline": t.pipeline.to_dict(), "score": t.score} for t in best],
    }


def _distinct_best(history: History, n: int) -> list[Trial]:
    """The ``n`` best trials of the ranking, one per classifier: variety helps a warm start."""
    best, classifiers = [], set()
    for trial in history.ranked():
        if trial.pipeline.classifier.name not in classifiers:
            best.append(trial)
            classifiers.add(trial.pipeline.classifier.name)
    return best[:n]


def portfolio_candidates(searches) -> dict[str, PipelineSpec]:
    """The best pipelines of every search, by key, in the order of the searches, then
    each classifier's default.

    The defaults compete in the portfolio so that a warm start opens with one where
    it did well on similar data, and with a tuned pipeline where that did better.
    """
    candidates = {}
    for record in searches:
        for found in record["best"][:PORTFOLIO_PER_DATASET]:
            pipeline = PipelineSpec.from_dict(found["pipeline"])
            candidates.setdefault(pipeline.key, pipeline)
    for pipeline in default_candidates():
        candidates.setdefault(pipeline.key, pipeline)
    return candidates


def score_portfolio(
    datasets_dir, name: str, candidates: dict[str, PipelineSpec], metric: str, *, n_jobs: int
) -> dict:
    """Each candidate's cross-validated score on dataset ``name`` (None where it failed)."""
    X, y = load_reference(datasets_dir, name)
    data = check_training_data(X, y)
    rows = subsample(np.arange(len(y)), data.y_codes, min(1.0, PORTFOLIO_ROWS / len(y)))
    data = check_training_data(X.iloc[rows], y.iloc[rows])
    grammar = default_grammar(data.profile)
    metric = get_metric(metric, data.profile.n_classes)
    folds = make_folds(data.y_codes, cv=PORTFOLIO_FOLDS, random_state=0)
    adapted = {key: grammar.adapt(p) for key, p in candidates.items()}
    # Candidates that differ only where it changes nothing adapt to one pipeline
    # (a scaler before a tree): it is scored once, for all of them.
    distinct = {p.key: p for p in adapted.values() if p is not None}
    proposals = [Proposal(p, key, _one_repeat(folds)) for key, p in distinct.items()]
    clock, start = time.monotonic, time.monotonic()
    history = History(metric)
    with WorkerPool() as pool:
        dataset = Dataset(data.X, data.y, data.y_codes, folds, data.profile.n_classes)
        runner = EvaluationRunner(
            pool, dataset, grammar, metric, random_state=0, clock=clock, start=start
        )
        budget = Budget(start, None, len(proposals), PORTFOLIO_TIME_LIMIT)
        run_search(_Listed(proposals), runner, history, budget=budget, n_jobs=n_jobs, clock=clock)
    found = {t.origin: t for t in history.trials if t.ok}
    trials = {key: found.get(p.key) if p else None for key, p in adapted.items()}
    return {
        "dataset": name,
        "metric": metric.name,
        "scores": {key: t and t.score for key, t in trials.items()},
        "fit_times": {key: t and round(t.fit_time, 4) for key, t in trials.items()},
    } | _PORTFOLIO_SETTINGS


_PORTFOLIO_SETTINGS = {
    "rows": PORTFOLIO_ROWS,
    "folds": PORTFOLIO_FOLDS,
    "time_limit": PORTFOLIO_TIME_LIMIT,
}


def _is_current(record: dict | None, n_rows: int) -> bool:
    """Whether a portfolio record of a dataset of ``n_rows`` rows was scored as today's
    settings would score it: a dataset that both row limits take whole is scored alike."""
    if record is None or "rows" not in record:
        return False
    same_rows = min(n_rows, record["rows"]) == min(n_rows, PORTFOLIO_ROWS)
    return same_rows and (record.get("folds"), record.get("time_limit")) == (
        PORTFOLIO_FOLDS,
        PORTFOLIO_TIME_LIMIT,
    )


def _unscored(record: dict | None, candidates: dict, n_rows: int) -> dict[str, PipelineSpec]:
    """The candidates that ``record`` did not score and time as today's settings would."""
    if not _is_current(record, n_rows):
        return candidates
    timed = record.get("fit_times", {})
    return {key: p for key, p in candidates.items() if key not in timed}


def _merged(record: dict | None, new: dict, n_rows: int) -> dict:
    """``new`` with the scores of ``record`` that it did not redo (scored alike)."""
    if not _is_current(record, n_rows):
        return new
    return new | {field: record[field] | new[field] for field in ("scores", "fit_times")}


def _one_repeat(folds) -> Fidelity:
    return FULL if folds.n_repeats == 1 else Fidelity(folds=1 / folds.n_repeats)


class _Listed:
    """A searcher that proposes a given list of proposals, in order."""

    def __init__(self, proposals: Sequence[Proposal]):
        self._proposals: Iterator[Proposal] = iter(proposals)

    def ask(self) -> Proposal | None:
        return next(self._proposals, None)

    def tell(self, trial: Trial) -> None:
        pass


#: Columns of datasets.csv before the meta-features.
_DATASET_COLUMNS = ("dataset", "n_rows", "n_features", "n_classes", "metric", "budget",
                    "n_evaluations", "best_score")  # fmt: skip


def write_knowledge_base(
    out: Path,
    searches: dict,
    candidates: dict,
    scored: dict,
    described: dict,
    *,
    source: str,
) -> None:
    """The knowledge base's files and manifest, from the journals' records."""
    records = list(searches.values())
    datasets = pd.DataFrame(
        [{k: r[k] for k in _DATASET_COLUMNS} | described[r["dataset"]] for r in records]
    )
    datasets.to_csv(out / DATASETS_FILE, index=False, float_format="%.6g")
    lines = [
        found
        | {
            "dataset": r["dataset"],
            "rank": rank,
            "id": PipelineSpec.from_dict(found["pipeline"]).key,
        }
        for r in records
        for rank, found in enumerate(r["best"])
    ]
    lines += [{"id": p.key, "pipeline": p.to_dict(), "default": True} for p in default_candidates()]
    (out / PIPELINES_FILE).write_text(
        "".join(json.dumps(line, sort_keys=True) + "\n" for line in lines)
    )
    for file, field in ((PERFORMANCE_FILE, "scores"), (FIT_TIMES_FILE, "fit_times")):
        matrix = pd.DataFrame({name: record[field] for name, record in scored.items()})
        matrix = matrix.reindex(list(candidates)).rename_axis("candidate")
        matrix.to_csv(out / file, float_format="%.6g")
    manifest = _manifest(records, source=source)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


def _manifest(records: list[dict], *, source: str) -> dict:
    # From the records, not today's settings: a resumed build keeps earlier searches.
    budgets = sorted({r["budget"] for r in records})
    hours = sum(r["budget"] for r in records) / 3600
    return {
        "schema_version": SCHEMA_VERSION,
        "pipeline_format": FORMAT_VERSION,
        "metafeature_version": METAFEATURE_VERSION,
        "metafeatures": list(METAFEATURE_NAMES),
        "grammar_fingerprint": grammar_fingerprint(),
        "automl_version": __version__,
        "built": datetime.now(UTC).strftime("%Y-%m-%d"),
        "source": source,
        "search": "a cold AutoClassifier search each (random_state=0, n_jobs=1, no ensemble) "
        f"of {', '.join(f'{b:g}' for b in budgets)} s by size, {hours:.1f} h in all; each "
        "dataset's budget is in datasets.csv",
        "portfolio": f"the best pipeline of each dataset and each classifier's default, "
        f"scored on every dataset by "
        f"{PORTFOLIO_FOLDS}-fold CV on at most {PORTFOLIO_ROWS} rows, {PORTFOLIO_TIME_LIMIT:g} s "
        "at most each",
        "datasets": [
            {"name": r["dataset"], "n_rows": r["n_rows"], "n_classes": r["n_classes"]}
            for r in records
        ],
        "files": {
            DATASETS_FILE: "size, a sketch of the rows and meta-features of each dataset",
            PIPELINES_FILE: f"the {TOP_PIPELINES} best pipelines of each (one per classifier), "
            "and the defaults",
            PERFORMANCE_FILE: "the portfolio's CV scores (rows) on every dataset (columns)",
            FIT_TIMES_FILE: "the seconds each of those evaluations spent fitting",
        },
    }


def _read_journal(path: Path) -> dict[str, dict]:
    """The records of a journal by dataset; a torn last line (a killed build) is skipped."""
    records = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            records[record["dataset"]] = record
    return records


def _append(path: Path, record: dict) -> dict:
    # A killed build can leave a torn last line without its newline; the record
    # goes on a line of its own so that it is not lost with the torn one.
    torn = path.exists() and path.stat().st_size > 0 and _last_byte(path) != b"\n"
    with open(path, "a") as file:
        file.write(("\n" if torn else "") + json.dumps(record, sort_keys=True) + "\n")
        file.flush()
        os.fsync(file.fileno())
    return record


def _last_byte(path: Path) -> bytes:
    with open(path, "rb") as file:
        file.seek(-1, os.SEEK_END)
        return file.read(1)


def _count_rows(path: Path) -> int:
    return len(pd.read_csv(path, sep="\t", usecols=[TARGET]))
