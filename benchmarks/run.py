"""Benchmark AutoClassifier against default baselines on reference datasets.

Each (dataset, system) run happens in a fresh subprocess on a fixed 75/25
stratified split, so that its peak memory (the whole process tree, sampled) and
its wall time are its own. Results are appended to a JSON-lines file as they
finish; running the same command again skips what is already there, so a long
benchmark resumes where it stopped.

    python benchmarks/run.py --datasets benchmarks/datasets_20.txt --budget 60 \\
        --out benchmarks/results/skeleton.jsonl
    python benchmarks/report.py benchmarks/results/skeleton.jsonl --plot anytime.png

Test score: ROC AUC for two classes, log loss for more (as the product is judged).
Needs ``pip install .[benchmark]`` (psutil samples the memory).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from report import report

_REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATASETS = _REPO.parent / "shared" / "datasets" / "classification"
SYSTEMS = ("automl", "random_forest", "lightgbm")  # and automl-<search>, automl-cold, flaml
_MEMORY_SAMPLE_SECONDS = 0.2


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one[0], args.one[1], args)))
        return 0
    if not Path(args.data_dir).is_dir() and not all(
        n.startswith("generated-") for n in _dataset_names(args.datasets)
    ):
        raise SystemExit(
            f"No datasets at {args.data_dir}: pass --data-dir (the classification folder)."
        )
    _check_knowledge(args.systems.split(","))
    names = _dataset_names(args.datasets)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = _done(out)
    for name in names:
        for system in args.systems.split(","):
            key = (name, system, args.budget, args.seed)
            if key in done:
                continue
            speed = reference_seconds()  # just before: a machine's speed drifts
            result = {**_run_in_subprocess(name, system, args), "reference_seconds": speed}
            with open(out, "a") as file:
                file.write(json.dumps(result) + "\n")
            print(_one_line(result), flush=True)
    print(report(pd.read_json(out, lines=True)))
    return 0


def reference_seconds() -> float:
    """Seconds this machine takes for a fixed piece of work like a search's (the fastest
    of three): two 5-fold cross-validations of a small pipeline on 500 rows.

    Rows from machines of different speed are not comparable at one time budget: one
    machine made a third of the evaluations in 120 s that another had, its first result
    coming three to four times later, and an hour on, a pure-Python loop ran there three
    times faster than during those runs (benchmarks/results/slow_machine_report.txt).
    So each run is stamped just before it starts. Small pipelines on small data, as
    here, are what a search spends most of its evaluations on.
    report.py compares these stamps.
    """
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = make_classification(500, 20, random_state=0)
    seconds = []
    for _ in range(3):
        start = time.monotonic()
        for _ in range(2):
            cross_val_score(make_pipeline(StandardScaler(), LogisticRegression()), X, y, cv=5)
        seconds.append(time.monotonic() - start)
    return min(seconds)


def _check_knowledge(systems: list[str]) -> None:
    """A warm start from an empty knowledge base is a cold start under a warm name."""
    from automl.knowledge import KnowledgeBase

    warm = [s for s in systems if s.startswith("automl") and not s.endswith("-cold")]
    if warm and len(KnowledgeBase.load()) == 0:
        raise SystemExit(
            f"{warm[0]} warm-starts, but the knowledge base in metadata/ is empty: build it "
            "first (automl kb build), or run automl-cold."
        )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--datasets", help="file with one dataset name a line, or names joined by commas"
    )
    parser.add_argument("--data-dir", default=str(DEFAULT_DATASETS))
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--budget", type=float, default=60.0, help="AutoClassifier's time_budget")
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results/results.jsonl")
    parser.add_argument(
        "--flaml-python", help="Python of a separate environment with flaml[automl] installed"
    )
    parser.add_argument("--one", nargs=2, metavar=("DATASET", "SYSTEM"), help=argparse.SUPPRESS)
    return parser


def parse_search_arguments(description: str, *, budget: float) -> argparse.Namespace:
    """The arguments of a script that searches datasets' training splits on one core:
    ``--datasets`` (as :func:`_dataset_names` reads them), ``--budget``, ``--seed`` and
    ``--data-dir``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--datasets", required=True)
    parser.add_argument("--budget", type=float, default=budget)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=str(DEFAULT_DATASETS))
    args = parser.parse_args()
    args.n_jobs = 1
    return args


def _dataset_names(spec: str) -> list[str]:
    """Names separated by commas, or a file of them, one per line (``#`` comments)."""
    path = Path(spec)
    if "," not in spec and path.is_file():
        lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
        return [line for line in lines if line]
    return [name.strip() for name in spec.split(",") if name.strip()]


def _done(out: Path) -> set[tuple]:
    if not out.exists():
        return set()
    rows = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    return {(r["dataset"], r["system"], r["budget"], r["seed"]) for r in rows}


def _run_in_subprocess(name: str, system: str, args: argparse.Namespace) -> dict:
    import psutil

    env = os.environ.copy()
    python = sys.executable
    if system == "flaml" and args.flaml_python:
        # FLAML's own environment has no automl installed: the data loader is this checkout's.
        python = args.flaml_python
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_REPO), env.get("PYTHONPATH")]))
    command = [
        python, __file__, "--one", name, system, "--data-dir", args.data_dir,
        "--budget", str(args.budget), "--n-jobs", str(args.n_jobs), "--seed", str(args.seed),
    ]  # fmt: skip
    start = time.monotonic()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    peak = 0
    watched = psutil.Process(process.pid)
    while process.poll() is None:
        peak = max(peak, _tree_memory(watched))
        time.sleep(_MEMORY_SAMPLE_SECONDS)
    stdout, stderr = process.communicate()
    base = {"dataset": name, "system": system, "budget": args.budget, "seed": args.seed}
    if process.returncode != 0 or not stdout.strip():
        return {
            **base,
            "status": "failed",
            "error": stderr.strip()[-800:],
            "wall_time": time.monotonic() - start,
        }
    return {**base, **json.loads(stdout.strip().splitlines()[-1]), "peak_mb": peak / 2**20}


def _tree_memory(process) -> int:
    """Proportional set size of a process and its descendants.

    PSS, not RSS: forked workers share their parent's pages, which RSS would
    count once per process.
    """
    import psutil

    total = 0
    for member in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):  # gone in the meantime
            total += member.memory_full_info().pss
    return total


def run_one(name: str, system: str, args: argparse.Namespace) -> dict:
    """Fit ``system`` on the training part of ``name`` and score the test part."""
    X, y = _load(args.data_dir, name)
    X_train, X_test, y_train, y_test = split(X, y, seed=args.seed)
    model = _system(system, args, name, n_classes=len(np.unique(y)))
    start = time.monotonic()
    model.fit(X_train, y_train)
    fit_time = time.monotonic() - start
    proba = model.predict_proba(X_test)
    batch = X_test.sample(1000, replace=True, random_state=0)  # the same 1,000 rows for all
    budgeted = system.startswith(("automl", "flaml"))
    result = {
        "status": "ok",
        "n_rows": len(X),
        "n_classes": len(np.unique(y)),
        "train_mb": X_train.memory_usage(deep=True).sum() / 2**20,
        "fit_time": fit_time,
        "over_budget": fit_time - args.budget if budgeted else None,
        **_test_score(y_test, proba, model.classes_),
        "predict_seconds_per_1000": _predict_seconds(model, batch),
    }
    if system.startswith("automl"):
        single = model.best_pipeline_.predict_proba(X_test)
        result.update(
            n_members=len(model.ensemble_),
            single_test_score=_test_score(y_test, single, model.classes_)["test_score"],
            # Both without AutoClassifier's input checks: the pickles users get.
            predict_seconds_per_1000=_predict_seconds(model.model_, batch),
            single_predict_seconds_per_1000=_predict_seconds(model.best_pipeline_, batch),
            combiners=_combiners(model, y_train),
            n_evaluations=len(model.history_),
            cv_score=model.best_score_,
            pipeline=model.best_pipeline_spec_.describe(),
            trajectory=_trajectory(model),
        )
    return result


def split(X: pd.DataFrame, y: np.ndarray, *, seed: int) -> list:
    """The benchmark's 75/25 split, stratified where every class has two rows."""
    from sklearn.model_selection import train_test_split

    stratify = y if np.bincount(pd.factorize(y)[0]).min() >= 2 else None
    return train_test_split(X, y, test_size=0.25, stratify=stratify, random_state=seed)


def _load(data_dir: str, name: str) -> tuple[pd.DataFrame, np.ndarray]:
    """A reference dataset, or ``generated-<rows>x<columns>``: a synthetic binary task
    (half the columns informative, 5% of the labels flipped) for sizes the references lack.
    """
    if name.startswith("generated-"):
        from sklearn.datasets import make_classification

        n_rows, n_columns = (int(n) for n in name.removeprefix("generated-").split("x"))
        X, y = make_classification(
            n_rows, n_columns, n_informative=n_columns // 2, flip_y=0.05, random_state=0
        )
        return pd.DataFrame(X, columns=[f"x{i}" for i in range(n_columns)]), y
    from automl.build_knowledge import load_reference

    X, y = load_reference(data_dir, name)
    return X, y.to_numpy()


def _combiners(model, y_train) -> dict[str, float]:
    """How well the best pipeline, ensemble selection and a stacking layer generalise.

    Measured on the search's out-of-fold predictions alone, by cross-fitting: each
    combiner is fitted on one half of the validated rows and scored on the other,
    and the other way round. No model is refitted; only the combiners differ.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    from automl.ensemble import select_ensemble

    metric = model.history_.metric
    y = np.searchsorted(model.classes_, np.asarray(y_train))
    candidates = [t for t in model.history_.ranked() if t.oof_proba is not None][:20]
    if len(candidates) < 2:
        return {}
    validated = ~np.isnan(np.stack([t.oof_proba for t in candidates])).any(axis=(0, 2))
    rows = np.flatnonzero(validated)
    if np.bincount(y[rows]).min() < 2:
        return {}
    scores = {"best": [], "caruana": [], "stacking": []}
    for fit, held in StratifiedKFold(2, shuffle=True, random_state=0).split(rows, y[rows]):
        fit, held = rows[fit], rows[held]
        scores["best"].append(metric(y[held], candidates[0].oof_proba[held]))
        members = select_ensemble([_rows(t, fit) for t in candidates], y[fit], metric, size=20)
        chosen = {t.number: w for t, w in members}
        blend = sum(chosen[t.number] * t.oof_proba[held] for t in candidates if t.number in chosen)
        scores["caruana"].append(metric(y[held], blend))
        features = np.hstack([np.log(np.clip(t.oof_proba, 1e-6, 1)) for t in candidates[:10]])
        stacker = LogisticRegression(C=1.0, max_iter=1000).fit(features[fit], y[fit])
        stacked = np.zeros((len(held), len(model.classes_)))
        stacked[:, stacker.classes_] = stacker.predict_proba(features[held])
        scores["stacking"].append(metric(y[held], stacked))
    return {name: float(np.mean(values)) for name, values in scores.items()}


def _rows(trial, rows):
    """``trial`` with the out-of-fold predictions of ``rows`` only."""
    import dataclasses

    return dataclasses.replace(trial, oof_proba=trial.oof_proba[rows])


def _predict_seconds(model, batch) -> float:
    """The fastest of three predictions of ``batch``: the first pays for warming up."""
    times = []
    for _ in range(3):
        start = time.perf_counter()
        model.predict_proba(batch)
        times.append(time.perf_counter() - start)
    return min(times)


def _trajectory(model) -> list[tuple[float, float]]:
    """(seconds, best CV score so far) at each improvement, at full fidelity."""
    points, best = [], None
    objective = model.history_.metric.objective
    for trial in sorted(model.history_.trials, key=lambda t: t.finished_at):
        full = trial.ok and trial.fidelity.cost == 1.0
        if full and (best is None or objective(trial.score) > objective(best)):
            best = trial.score
            points.append((round(trial.finished_at, 3), best))
    return points


def _system(system: str, args: argparse.Namespace, name: str, n_classes: int):
    if system.startswith("automl"):
        return _automl(system, args, name)
    if system == "flaml":
        return _Flaml(args.budget, args.n_jobs, args.seed, n_classes)
    from lightgbm import LGBMClassifier
    from sklearn.compose import make_column_selector, make_column_transformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    preprocessing = make_column_transformer(
        (SimpleImputer(strategy="median"), make_column_selector(dtype_include="number")),
        (
            make_pipeline(
                SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")
            ),
            make_column_selector(dtype_exclude="number"),
        ),
    )
    models = {
        "random_forest": RandomForestClassifier(n_jobs=args.n_jobs, random_state=args.seed),
        "lightgbm": LGBMClassifier(n_jobs=args.n_jobs, random_state=args.seed, verbose=-1),
    }
    return make_pipeline(preprocessing, models[system])


def _automl(system: str, args: argparse.Namespace, name: str):
    """``automl``, ``automl-<search>``, ``automl-cold`` or ``automl-<search>-cold``.

    The warm start never sees the dataset under test: it and its near-duplicates
    leave the knowledge base first (leave-one-dataset-out), as they would be absent
    for a user's own data.
    """
    from automl import AutoClassifier
    from automl.knowledge import KnowledgeBase

    options = system.split("-")[1:]
    cold = "cold" in options
    searches = [option for option in options if option != "cold"]
    return AutoClassifier(
        time_budget=args.budget,
        n_jobs=args.n_jobs,
        random_state=args.seed,
        warm_start=False if cold else KnowledgeBase.load().without([name]),
        **({"search": searches[0]} if searches else {}),
    )


class _Flaml:
    """FLAML's AutoML at the same budget, cores and metric as AutoClassifier."""

    def __init__(self, budget: float, n_jobs: int, seed: int, n_classes: int):
        from flaml import AutoML

        self.model = AutoML()
        self.settings = dict(
            task="classification",
            time_budget=budget,
            metric="roc_auc" if n_classes == 2 else "log_loss",
            n_jobs=n_jobs,
            seed=seed,
            verbose=0,
        )

    def fit(self, X, y):
        self.model.fit(X, y, **self.settings)
        self.classes_ = self.model.classes_
        return self

    def predict_proba(self, X):
        return self.model.predict_proba(X)


def _test_score(y_test, proba, classes) -> dict:
    from sklearn.metrics import log_loss, roc_auc_score

    if len(classes) == 2:
        return {"metric": "roc_auc", "test_score": roc_auc_score(y_test == classes[1], proba[:, 1])}
    proba = np.clip(proba, 1e-15, 1)
    proba /= proba.sum(axis=1, keepdims=True)
    return {"metric": "log_loss", "test_score": log_loss(y_test, proba, labels=classes)}


def _one_line(result: dict) -> str:
    if result["status"] != "ok":
        return f"{result['dataset']:<28} {result['system']:<14} FAILED {result['error'][-200:]}"
    score = f"{result['metric']} {result['test_score']:.4f}"
    return (
        f"{result['dataset']:<28} {result['system']:<14} {score} "
        f"fit {result['fit_time']:.1f}s peak {result['peak_mb']:.0f} MB"
    )


if __name__ == "__main__":
    sys.exit(main())
