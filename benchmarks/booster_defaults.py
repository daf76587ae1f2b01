"""The boosters' default L2 penalty: held-out scores with a weak one and with XGBoost's 1.

    python benchmarks/booster_defaults.py [--datasets FILE|a,b,...] [--out booster_defaults.jsonl]

For every reference dataset (at most ``--max-rows`` rows, a stratified sample), the
default pipeline of LightGBM and of HistGradientBoosting is scored by stratified
3-fold cross-validation with the grammar's default penalty (1e-3 and 1e-10) and
with 1: ROC AUC for two classes, log loss for more (as the product is judged). The
class prior's log loss says which runs predict worse than no model. Rows are
appended to ``--out`` as each dataset finishes; running again skips what is there.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from run import DEFAULT_DATASETS, _dataset_names
from scipy.stats import binomtest
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict, train_test_split

from automl.build_knowledge import load_reference
from automl.components import default_grammar
from automl.data import check_training_data
from automl.metrics import get_metric

#: Each booster's L2 hyperparameter, compared at the grammar's default and at PENALTY.
L2_PARAMETERS = {"lightgbm": "reg_lambda", "hist_gradient_boosting": "l2_regularization"}
PENALTY = 1.0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    names = _dataset_names(args.datasets) if args.datasets else _every_dataset(args.data_dir)
    out = Path(args.out)
    done = {json.loads(line)["dataset"] for line in out.open()} if out.exists() else set()
    todo = [name for name in names if name not in done]
    rows = Parallel(n_jobs=args.n_jobs, return_as="generator_unordered")(
        delayed(score_dataset)(args.data_dir, name, args.max_rows) for name in todo
    )
    for row in rows:
        with out.open("a") as file:
            file.write(json.dumps(row) + "\n")
        print(row["dataset"], row["scores"], flush=True)
    print(summary(pd.read_json(out, lines=True)))
    return 0


def score_dataset(data_dir: str, name: str, max_rows: int) -> dict:
    """Held-out scores of each booster's default pipeline, with its default penalty
    (``<classifier>@default``) and with PENALTY, and the class prior's log loss."""
    X, y = load_reference(data_dir, name)
    if len(y) > max_rows:
        X, _, y, _ = train_test_split(X, y, train_size=max_rows, stratify=y, random_state=0)
    data = check_training_data(X, y)
    grammar = default_grammar(data.profile)
    binary = len(data.classes) == 2
    folds = StratifiedKFold(3, shuffle=True, random_state=0)
    scores = {}
    for classifier, parameter in L2_PARAMETERS.items():
        spec = grammar.default_pipeline(classifier)
        penalised = grammar.complete_step(
            classifier, {**spec.classifier.kwargs, parameter: PENALTY}
        )
        for label, step in (("default", spec.classifier), (f"{PENALTY:g}", penalised)):
            pipeline = grammar.build(dataclasses.replace(spec, classifier=step), random_state=0)
            proba = cross_val_predict(
                pipeline, data.X, data.y_codes, cv=folds, method="predict_proba"
            )
            if binary:
                score = roc_auc_score(data.y_codes, proba[:, 1])
            else:
                score = log_loss(data.y_codes, proba)
            scores[f"{classifier}@{label}"] = float(score)
    prior = np.tile(np.bincount(data.y_codes) / len(data.y_codes), (len(data.y_codes), 1))
    return {
        "dataset": name,
        "n_rows": len(data.y_codes),
        "n_classes": len(data.classes),
        "metric": "roc_auc" if binary else "log_loss",
        "prior_log_loss": float(log_loss(data.y_codes, prior)),
        "scores": scores,
    }


def summary(rows: pd.DataFrame) -> str:
    """For each booster and metric: runs better, equal and worse with the penalty, a sign test."""
    lines = []
    for classifier in L2_PARAMETERS:
        for name, group in rows.groupby("metric"):
            metric = get_metric(name, group["n_classes"].iloc[0])
            default_scores = group["scores"].str.get(f"{classifier}@default")
            penalised_scores = group["scores"].str.get(f"{classifier}@{PENALTY:g}")
            gain = metric.objective(penalised_scores) - metric.objective(default_scores)
            better, worse = int((gain > 1e-4).sum()), int((gain < -1e-4).sum())
            test = binomtest(better, better + worse).pvalue if better + worse else 1.0
            line = (
                f"{classifier} {name} ({len(group)} datasets): with L2 {PENALTY:g} better on "
                f"{better}, worse on {worse}, within 1e-4 on {len(group) - better - worse} "
                f"(sign test p = {test:.3f}); median gain {gain.median():+.4f}"
            )
            if name == "log_loss":
                prior = group["prior_log_loss"]
                line += (
                    f"; worse than the class prior: {int((default_scores > prior).sum())} "
                    f"with the default, {int((penalised_scores > prior).sum())} with {PENALTY:g}"
                )
            lines.append(line)
    return "\n".join(lines)


def _every_dataset(data_dir: str) -> list[str]:
    return sorted(path.name.removesuffix(".tsv.gz") for path in Path(data_dir).glob("*.tsv.gz"))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--datasets", help="a file of names, one a line, or names joined by commas (default: all)"
    )
    parser.add_argument("--data-dir", default=str(DEFAULT_DATASETS))
    parser.add_argument("--max-rows", type=int, default=5000)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--out", default="benchmarks/results/booster_defaults.jsonl")
    return parser


if __name__ == "__main__":
    raise SystemExit(main())
