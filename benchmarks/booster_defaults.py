"""A classifier's defaults: held-out scores of its default pipeline with one parameter changed.

    python benchmarks/booster_defaults.py [--change lightgbm:min_child_weight=0.1 ...]
        [--datasets FILE|a,b,...] [--out booster_defaults.jsonl]

For every reference dataset (at most ``--max-rows`` rows, a stratified sample), the
default pipeline of each classifier named in a ``--change`` is scored by stratified
3-fold cross-validation as the grammar builds it and with the change (a parameter
of the pipeline's classifier step, set as ``Pipeline.set_params`` would; XGBoost's
sits inside a one-member vote, ``xgboost:xgboost__min_child_weight=2``): ROC AUC for
two classes, log loss for more (as the product is judged). The class prior's log
loss says which runs predict worse than no model. The default changes are the L2
penalty of 1 (XGBoost's) for LightGBM and HistGradientBoosting, measured and
rejected as a default (l2_default_report.txt). Rows are appended to ``--out`` as each
dataset finishes; running again skips the datasets that have every score asked for.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from run import DEFAULT_DATASETS, _dataset_names
from scipy.stats import binomtest
from sklearn.datasets import make_classification
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict, train_test_split

from automl.build_knowledge import load_reference
from automl.components import default_grammar
from automl.data import check_training_data
from automl.metrics import get_metric

#: Compared when no ``--change`` is given: each booster's L2 penalty at 1.
L2_CHANGES = ("lightgbm:reg_lambda=1", "hist_gradient_boosting:l2_regularization=1")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    changes = args.change or [_parse_change(change) for change in L2_CHANGES]
    for change in changes:
        if (problem := _problem(change)) is not None:
            parser.error(f"--change {change.classifier}:{change.label}: {problem}")
    names = _dataset_names(args.datasets) if args.datasets else _every_dataset(args.data_dir)
    out = Path(args.out)
    wanted = {key for change in changes for key in change.keys}
    merged = _merged(out) if out.exists() else pd.DataFrame({"dataset": [], "scores": []})
    done = set(merged.loc[merged["scores"].map(wanted.issubset), "dataset"])
    todo = [name for name in names if name not in done]
    rows = Parallel(n_jobs=args.n_jobs, return_as="generator_unordered")(
        delayed(score_dataset)(args.data_dir, name, args.max_rows, changes) for name in todo
    )
    for row in rows:
        with out.open("a") as file:
            file.write(json.dumps(row) + "\n")
        print(row["dataset"], row["scores"], flush=True)
    print(summary(_merged(out), changes))
    return 0


def _merged(out: Path) -> pd.DataFrame:
    """One row per dataset, the scores of every run on it together (the latest first)."""
    rows = pd.read_json(out, lines=True)
    scores = rows.groupby("dataset")["scores"].agg(
        lambda runs: dict(collections.ChainMap(*runs[::-1]))
    )
    return (
        rows.drop_duplicates("dataset", keep="last")
        .drop(columns="scores")
        .join(scores, on="dataset")
    )


def score_dataset(data_dir: str, name: str, max_rows: int, changes: list[Change]) -> dict:
    """Held-out scores of each changed classifier's default pipeline, as the grammar
    builds it (``<classifier>@default``) and with its change (``<classifier>@<change>``),
    and the class prior's log loss."""
    X, y = load_reference(data_dir, name)
    if len(y) > max_rows:
        X, _, y, _ = train_test_split(X, y, train_size=max_rows, stratify=y, random_state=0)
    data = check_training_data(X, y)
    grammar = default_grammar(data.profile)
    binary = len(data.classes) == 2
    folds = StratifiedKFold(3, shuffle=True, random_state=0)
    defaults = {change.keys[0]: change.classifier for change in changes}  # each one once
    variants = [(key, classifier, {}) for key, classifier in defaults.items()]
    variants += [(change.keys[1], change.classifier, change.params) for change in changes]
    scores = {}
    for key, classifier, params in variants:
        pipeline = grammar.build(grammar.default_pipeline(classifier), random_state=0)
        pipeline.set_params(**params)
        proba = cross_val_predict(pipeline, data.X, data.y_codes, cv=folds, method="predict_proba")
        if binary:
            score = roc_auc_score(data.y_codes, proba[:, 1])
        else:
            score = log_loss(data.y_codes, proba)
        scores[key] = float(score)
    prior = np.tile(np.bincount(data.y_codes) / len(data.y_codes), (len(data.y_codes), 1))
    return {
        "dataset": name,
        "n_rows": len(data.y_codes),
        "n_classes": len(data.classes),
        "metric": "roc_auc" if binary else "log_loss",
        "prior_log_loss": float(log_loss(data.y_codes, prior)),
        "scores": scores,
    }


def summary(rows: pd.DataFrame, changes: list[Change]) -> str:
    """For each change and metric: runs better, equal and worse with it, a sign test."""
    lines = []
    for change in changes:
        for name, group in rows.groupby("metric"):
            metric = get_metric(name, group["n_classes"].iloc[0])
            default_key, changed_key = change.keys
            group = group[group["scores"].map(set(change.keys).issubset)]
            if group.empty:
                lines.append(f"{change.classifier} {name}: no dataset has {changed_key} yet")
                continue
            default_scores = group["scores"].str.get(default_key)
            changed_scores = group["scores"].str.get(changed_key)
            gain = metric.objective(changed_scores) - metric.objective(default_scores)
            better, worse = int((gain > 1e-4).sum()), int((gain < -1e-4).sum())
            test = binomtest(better, better + worse).pvalue if better + worse else 1.0
            line = (
                f"{change.classifier} {name} ({len(group)} datasets): with {change.label} "
                f"better on {better}, worse on {worse}, "
                f"within 1e-4 on {len(group) - better - worse} "
                f"(sign test p = {test:.3f}); median gain {gain.median():+.4f}"
            )
            if name == "log_loss":
                prior = group["prior_log_loss"]
                line += (
                    f"; worse than the class prior: {int((default_scores > prior).sum())} "
                    f"with the default, {int((changed_scores > prior).sum())} with {change.label}"
                )
            lines.append(line)
    return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class Change:
    """One parameter of a classifier's default pipeline, set to another value."""

    classifier: str
    parameter: str
    value: int | float

    @property
    def label(self) -> str:
        return f"{self.parameter}={self.value:g}"

    @property
    def keys(self) -> tuple[str, str]:
        """The score keys of the default pipeline and of the changed one."""
        return f"{self.classifier}@default", f"{self.classifier}@{self.label}"

    @property
    def step_parameter(self) -> str:
        """The parameter's name in the pipeline, as ``Pipeline.set_params`` takes it."""
        return f"classifier__{self.parameter}"

    @property
    def params(self) -> dict[str, int | float]:
        return {self.step_parameter: self.value}


def _parse_change(text: str) -> Change:
    try:
        classifier, assignment = text.split(":")
        parameter, value = assignment.split("=")
        # Integer parameters (max_iter, num_leaves) refuse a float.
        return Change(classifier, parameter, int(value) if value.isdigit() else float(value))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected classifier:parameter=number, e.g. lightgbm:min_child_weight=0.1"
        ) from None


def _problem(change: Change) -> str | None:
    """Why ``change`` cannot apply to its classifier's default pipeline (None if it can):
    checked on tiny data before any dataset is read, not in a worker halfway through."""
    X, y = make_classification(20, 4, random_state=0)
    grammar = default_grammar(check_training_data(X, y).profile)
    if change.classifier not in grammar.options("classifier"):
        known = ", ".join(grammar.options("classifier"))
        return f"no classifier {change.classifier!r}; one of {known}"
    # get_params, not set_params: LightGBM takes any keyword, a misspelt one with a warning.
    pipeline = grammar.build(grammar.default_pipeline(change.classifier))
    if change.step_parameter not in pipeline.get_params():
        return f"the pipeline has no parameter {change.step_parameter!r}"
    return None


def _every_dataset(data_dir: str) -> list[str]:
    return sorted(path.name.removesuffix(".tsv.gz") for path in Path(data_dir).glob("*.tsv.gz"))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--datasets", help="a file of names, one a line, or names joined by commas (default: all)"
    )
    parser.add_argument(
        "--change",
        action="append",
        type=_parse_change,
        help="classifier:parameter=number, repeatable (default: " + ", ".join(L2_CHANGES) + ")",
    )
    parser.add_argument("--data-dir", default=str(DEFAULT_DATASETS))
    parser.add_argument("--max-rows", type=int, default=5000)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--out", default="benchmarks/results/booster_defaults.jsonl")
    return parser


if __name__ == "__main__":
    raise SystemExit(main())
