"""The search report: one self-contained HTML page about a fitted model and its search.

It is made from the model's description (what the manifest beside an exported
pickle holds), so ``automl report model.pkl`` and ``AutoClassifier.report`` give the
same page: the best score against time over the scores of all evaluations coloured
by model family, the ensemble's members and weights, which hyperparameters mattered
(estimated by a random forest over the search history, as in fANOVA-style analyses
of a surrogate), and the leaderboard. Charts are inline SVG: the page needs no
network and no plotting library.
"""

from __future__ import annotations

import os
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestRegressor

from automl.svg import bars, scatter_with_line

#: Successful full evaluations needed to estimate hyperparameter importance.
MIN_TRIALS_FOR_IMPORTANCE = 10
_TOP_IMPORTANCES, _LEADERBOARD_ROWS, _PERMUTATIONS = 15, 25, 5
_STYLE = """
body { font-family: sans-serif; margin: 2em auto; max-width: 940px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; }
table { border-collapse: collapse; font-size: 0.85em; }
td, th { border-bottom: 1px solid #ddd; padding: 3px 8px; text-align: left; }
.note { color: #666; font-size: 0.9em; }
"""


def write_report(description: dict[str, Any], path: str | os.PathLike) -> None:
    """Write the HTML report of a model's ``description`` (its manifest) to ``path``."""
    Path(path).write_text(html_report(description))


def html_report(description: dict[str, Any]) -> str:
    """The report as one HTML document."""
    history = _history_frame(description)
    metric = description["metric"]
    sections = [
        f"<h1>automl search report: {escape(description['description'])}</h1>",
        _summary(description, history),
        "<h2>Scores over time</h2>",
        _scores_over_time(history, metric, description),
        "<h2>Ensemble</h2>",
        _ensemble(description),
        "<h2>Hyperparameter importance</h2>",
        _importance(history),
        "<h2>Leaderboard</h2>",
        _leaderboard(history, metric),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>automl report</title><style>{_STYLE}</style></head><body>"
        + "\n".join(sections)
        + "</body></html>\n"
    )


def _history_frame(description: dict[str, Any]) -> pd.DataFrame:
    columns = ["number", "finished_at", "score", "score_std", "status", "fidelity", "origin",
               "fit_time", "description", "pipeline"]  # fmt: skip
    history = pd.DataFrame(description.get("history", []), columns=columns)
    history["family"] = history["description"].str.rsplit(" > ", n=1).str[-1]
    return history


def _summary(description: dict[str, Any], history: pd.DataFrame) -> str:
    failed = history[history["status"] != "ok"]
    reasons = failed["status"].value_counts().to_dict()
    items = [
        f"Metric: {description['metric']}, validated by {description['validation']}.",
        f"Best single pipeline: {description['metric']} {description['cv_score']:.4f}.",
        f"Evaluations: {len(history)}"
        + (f" ({', '.join(f'{n} {s}' for s, n in reasons.items())})" if reasons else "")
        + ".",
        f"Classes: {', '.join(escape(str(c)) for c in description['classes'])}.",
        f"Features: {len(description['features']['numeric'])} numeric, "
        f"{len(description['features']['categorical'])} categorical.",
    ]
    return "<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>"


def _scores_over_time(history: pd.DataFrame, metric: str, description: dict[str, Any]) -> str:
    full = history[(history["status"] == "ok") & (history["fidelity"] == "full")]
    full = full.sort_values("finished_at")
    if full.empty:
        return '<p class="note">No evaluation was completed at full fidelity.</p>'
    points = {
        family: list(zip(group["finished_at"], group["score"], strict=True))
        for family, group in full.groupby("family")
    }
    lower_is_better = metric == "log_loss"
    best = full["score"].cummin() if lower_is_better else full["score"].cummax()
    improving = best.ne(best.shift())
    line = list(zip(full["finished_at"][improving], best[improving], strict=True))
    chart = scatter_with_line(
        points, line, x_label="seconds since the start of fit", y_label=metric,
        line_label="best so far",
    )  # fmt: skip
    partial = len(history[(history["status"] == "ok") & (history["fidelity"] != "full")])
    note = (
        f'<p class="note">Each point is a pipeline evaluated at full fidelity, coloured by its '
        f"classifier; {partial} cheaper first looks (successive halving) are not shown.</p>"
    )
    return chart + note


def _ensemble(description: dict[str, Any]) -> str:
    members = description.get("ensemble") or []
    if not members:
        return '<p class="note">No ensemble.</p>'
    weights = {f"{i + 1}. {m['description']}": m["weight"] for i, m in enumerate(members)}
    return bars(weights, x_label="weight in the ensemble")


def _importance(history: pd.DataFrame) -> str:
    full = history[(history["status"] == "ok") & (history["fidelity"] == "full")]
    if len(full) < MIN_TRIALS_FOR_IMPORTANCE:
        return (
            f'<p class="note">Too few evaluations ({len(full)}, fewer than '
            f"{MIN_TRIALS_FOR_IMPORTANCE}) to estimate which hyperparameters matter.</p>"
        )
    importance = hyperparameter_importance(full["pipeline"].tolist(), full["score"].to_numpy())
    # Below half a percent is noise of the estimate, not a finding.
    top = {name: share for name, share in importance.items() if share >= 0.005}
    top = dict(list(top.items())[:_TOP_IMPORTANCES])
    return bars(top, x_label="importance (share of the explained variation)") + (
        '<p class="note">How much each choice explains the differences in score between the '
        "evaluated pipelines: the permutation importance of each column for a random forest "
        "that predicts the score from the pipeline, over the search history.</p>"
    )


def hyperparameter_importance(pipelines: list[dict], scores: np.ndarray) -> dict[str, float]:
    """Share of the score's variation that each slot's choice and each hyperparameter explain.

    A random forest learns the score from the pipelines; a column's importance is how
    much worse it predicts when that column's values are shuffled (Breiman's
    permutation importance). A hyperparameter is shuffled only among the pipelines
    that have it, so that whether it is present (which says which component was
    chosen) counts for the component, not for the hyperparameter.
    """
    table = pd.DataFrame([_flatten(p) for p in pipelines])
    encoded = pd.DataFrame({column: _encode(table[column]) for column in table})
    forest = RandomForestRegressor(n_estimators=200, min_samples_leaf=2, random_state=0)
    forest.fit(encoded, scores)
    baseline = np.mean((forest.predict(encoded) - scores) ** 2)
    rng = np.random.default_rng(0)
    loss = {}
    for column in table:
        active = np.flatnonzero(table[column].notna().to_numpy())
        errors = []
        for _ in range(_PERMUTATIONS):
            shuffled = encoded.copy()
            shuffled.iloc[active, shuffled.columns.get_loc(column)] = rng.permutation(
                encoded[column].to_numpy()[active]
            )
            errors.append(np.mean((forest.predict(shuffled) - scores) ** 2) - baseline)
        loss[column] = max(0.0, float(np.mean(errors)))
    total = sum(loss.values()) or 1.0
    return dict(sorted(((c, v / total) for c, v in loss.items()), key=lambda item: -item[1]))


def _encode(values: pd.Series) -> pd.Series:
    """Numbers as they are, anything else as codes; -1 where the column is inactive."""
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().sum() == values.notna().sum():
        return numeric.fillna(-1.0)
    codes = pd.Series(pd.factorize(values)[0], index=values.index, dtype=float)
    return codes.where(values.notna(), -1.0)


def _flatten(pipeline: dict) -> dict[str, Any]:
    """A pipeline as flat columns: each slot's component, and each hyperparameter."""
    flat: dict[str, Any] = {}
    for slot in ("imputation", "encoding", "scaling", "classifier"):
        step = pipeline.get(slot)
        if step:
            flat[slot] = step["name"]
            flat.update({f"{step['name']}.{k}": v for k, v in step["params"].items()})
    features = pipeline.get("features") or []
    flat["features"] = " + ".join(step["name"] for step in features) or "none"
    for step in features:
        flat.update({f"{step['name']}.{k}": v for k, v in step["params"].items()})
    return flat


def _leaderboard(history: pd.DataFrame, metric: str) -> str:
    ok = history[history["status"] == "ok"]
    full = ok[ok["fidelity"] == "full"]
    ranked = full.sort_values("score", ascending=metric == "log_loss").head(_LEADERBOARD_ROWS)
    rows = "".join(
        f"<tr><td>{rank}</td><td>{escape(row.description)}</td><td>{row.score:.4f}</td>"
        f"<td>{row.score_std:.4f}</td><td>{row.fit_time:.2f}</td><td>{escape(row.origin)}</td>"
        f"<td>{row.finished_at:.1f}</td></tr>"
        for rank, row in enumerate(ranked.itertuples(), start=1)
    )
    return (
        f"<table><tr><th>rank</th><th>pipeline</th><th>{metric}</th><th>std</th>"
        f"<th>fit time (s)</th><th>origin</th><th>finished at (s)</th></tr>{rows}</table>"
        f'<p class="note">The best {len(ranked)} of {len(full)} full evaluations.</p>'
    )
