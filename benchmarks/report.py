"""Tables and the anytime plot of a benchmark's results (a JSON-lines file of run.py).

    python benchmarks/report.py benchmarks/results/run.jsonl [more.jsonl[=NAME] ...]
        [--plot anytime.png] [--versus automl@10 automl-cold@60]

A run (system, budget, dataset, seed) found in several files counts once, as the
last file has it: so one system can be measured again against another's old rows.

For each budget: the test score of every system on every dataset (the mean over the
seeds, each a different 75/25 split, where several were run), the mean rank of
each system (1 is best; ROC AUC higher and log loss lower are better; with three
systems or more, Friedman's test of whether they differ at all and the difference two
mean ranks need to differ at 5%, Nemenyi's), how often each
AutoClassifier variant is at least as good as each other system, and its time over
budget and peak memory. Then every run (budget, dataset, seed) on its own: the mean
rank over all runs (and apart, of the test and the CV score, on data of fewer and of
more than 1,000 rows) and a sign test for each pair of systems, which have more
pairs to go on than the means over seeds. The plot shows the best cross-validation
score over time of the AutoClassifier variants, normalised per dataset (0: the worst
first result of any variant, 1: the best final one) and averaged over datasets (and
seeds).
"""

from __future__ import annotations

import argparse
import sys
from itertools import combinations

import numpy as np
import pandas as pd
from scipy.stats import binomtest, friedmanchisquare, studentized_range, ttest_1samp

_GRID_POINTS = 200
#: Runs on fewer rows are ranked apart: in the search ablation, whichever system had the
#: better CV score of a run on such data was no likelier to have the better test score
#: (mean Spearman correlation across systems 0.00, against 0.38 to 0.44 above).
_SMALL_ROWS = 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "results",
        nargs="+",
        help="JSON-lines files written by benchmarks/run.py; FILE=NAME calls the system of "
        "FILE's rows NAME (two versions of one system, e.g. rows of a frozen copy)",
    )
    parser.add_argument("--plot", help="write the anytime plot to this PNG file")
    parser.add_argument(
        "--versus",
        nargs=2,
        action="append",
        default=[],
        metavar=("SYSTEM@BUDGET", "OTHER@BUDGET"),
        help="compare two runs across budgets, e.g. automl@10 automl-cold@60",
    )
    args = parser.parse_args(argv)
    results = pd.concat([_read(argument) for argument in args.results])
    run = ["system", "budget", "dataset", "seed"]
    if repeated := int(results.duplicated(run).sum()):
        print(f"{repeated} runs in several files: each as the last file has it", file=sys.stderr)
    results = results.drop_duplicates(run, keep="last")
    print(report(results))
    for first, second in args.versus:
        print(versus(results, first, second))
    if args.plot:
        plot_anytime(results, args.plot)
        print(f"\nanytime plot written to {args.plot}")
    return 0


def _read(argument: str) -> pd.DataFrame:
    """The rows of a results file; ``FILE=NAME`` gives them the system NAME."""
    path, _, name = argument.partition("=")
    rows = pd.read_json(path, lines=True)
    return rows.assign(system=name) if name else rows


def report(results: pd.DataFrame) -> str:
    """All tables, one section per budget."""
    ok = results[results["status"] == "ok"]
    sections = [_budget_section(group, budget) for budget, group in ok.groupby("budget")]
    if ok["system"].nunique() > 1:
        sections.append(_run_by_run_section(ok))
    failed = results[results["status"] != "ok"]
    if len(failed):
        runs = ", ".join(
            failed["dataset"] + "/" + failed["system"] + "@" + failed["budget"].astype(str)
        )
        sections.append(f"failed runs ({len(failed)}): {runs}")
    return "\n\n".join(sections)


def _budget_section(ok: pd.DataFrame, budget: float) -> str:
    scores = ok.pivot_table(index="dataset", columns="system", values="test_score", aggfunc="mean")
    objective = _objective_table(ok, "test_score")
    table = scores.assign(metric=ok.groupby("dataset")["metric"].last())
    seeds = ok["seed"].nunique()
    title = f"test score, mean over {seeds} seeds" if seeds > 1 else "test score"
    lines = [f"== budget {budget:g} s: {title} ==", table.to_string(float_format=_fmt)]
    lines.append(_rank_line("\nmean rank (1 is best): ", objective))
    for column, what in (
        ("cv_score", "the best CV score (what the search optimises"),
        ("single_test_score", "the best single pipeline's test score (no ensemble"),
    ):
        if column not in ok:
            continue
        values = _objective_table(ok, column).dropna()
        lines.append(_rank_line(f"mean rank on {what}; {len(values)} datasets): ", values))
    for system in [s for s in objective.columns if s.startswith("automl")]:
        for other in [s for s in objective.columns if s != system]:
            both = objective[[system, other]].dropna()
            at_least = int((both[system] >= both[other]).sum())
            better = int((both[system] > both[other]).sum())
            lines.append(
                f"{system} vs {other}: at least as good on {at_least}, better on {better}, "
                f"of {len(both)} datasets"
            )
    if "single_test_score" in ok:
        lines.extend(_ensemble_lines(ok[ok["single_test_score"].notna()]))
    budgeted = ok[ok["over_budget"].notna()]
    for system, runs in budgeted.groupby("system"):
        within = int((runs["fit_time"] <= budget + max(5.0, 0.05 * budget)).sum())
        lines.append(
            f"{system}: time over budget median {runs['over_budget'].median():.2f} s, worst "
            f"{runs['over_budget'].max():.2f} s, within budget + max(5 s, 5%) on {within} of "
            f"{len(runs)}; peak memory median {runs['peak_mb'].median():.0f} MB, worst "
            f"{runs['peak_mb'].max():.0f} MB"
        )
    lines.extend(_machine_lines(ok))
    return "\n".join(lines)


#: How much slower one system's machine may be than another's before their rows are flagged.
_SPEED_TOLERANCE = 1.5


def _machine_lines(ok: pd.DataFrame) -> list[str]:
    """Each system's machine speed (run.py's reference work), flagged where systems differ.

    Medians, since one run's stamp can be off by a third when the machine is busy.
    """
    if "reference_seconds" not in ok or ok["reference_seconds"].isna().all():
        return []
    stamped = ok[ok["reference_seconds"].notna()]
    speeds = stamped.groupby("system")["reference_seconds"].median()
    line = "reference work (machine speed), median seconds: " + ", ".join(
        f"{system} {seconds:.2f}" for system, seconds in speeds.items()
    )
    if unstamped := len(ok) - len(stamped):
        line += f"; {unstamped} rows predate the stamp"
    ratio = speeds.max() / speeds.min()
    if ratio <= _SPEED_TOLERANCE:
        return [line]
    warning = (
        f"WARNING: systems' rows from machines x{ratio:.1f} apart in speed: not comparable at "
        "one budget"
    )
    return [line, warning]


def _run_by_run_section(ok: pd.DataFrame) -> str:
    runs = _objective_table(ok, "test_score", by=["budget", "dataset", "seed"]).dropna()
    lines = [
        f"== every budget and seed, run by run: {len(runs)} runs of each system ==",
        _rank_line("mean rank of the test score (1 is best): ", runs),
    ]
    small = ok["n_rows"] < _SMALL_ROWS
    sizes = (f"fewer than {_SMALL_ROWS:,} rows", f"{_SMALL_ROWS:,} rows or more")
    for rows, size in zip((small, ~small), sizes, strict=True):
        for column, what in (("test_score", "test score"), ("cv_score", "best CV score")):
            if column in ok and rows.any():
                values = _objective_table(ok[rows], column, by=["budget", "dataset", "seed"])
                values = values.dropna()
                label = f"mean rank of the {what} on {size} ({len(values)} runs): "
                lines.append(_rank_line(label, values))
    for first, second in combinations(runs.columns, 2):
        better = int((runs[first] > runs[second]).sum())
        worse = int((runs[first] < runs[second]).sum())
        lines.append(
            f"{first} vs {second}: better on {better}, worse on {worse}; "
            f"sign test p = {_sign_test(better, worse):.2f}"
        )
    return "\n".join(lines)


def _objective_table(
    runs: pd.DataFrame, column: str, by: str | list[str] = "dataset"
) -> pd.DataFrame:
    """``column`` by ``by`` and system (mean over the rest), larger better on every metric."""
    values = runs.assign(value=_sign(runs) * runs[column])
    return values.pivot_table(index=by, columns="system", values="value", aggfunc="mean")


def _rank_line(label: str, values: pd.DataFrame) -> str:
    ranks = values.rank(axis=1, ascending=False).mean().sort_values()
    line = label + ", ".join(f"{system} {rank:.2f}" for system, rank in ranks.items())
    complete = values.dropna()  # the tests need every system's result on each row
    n_rows, n_systems = complete.shape
    if n_systems < 3 or n_rows < 2:
        return line
    # Demšar (JMLR 2006): are the systems told apart at all, and by how much must two
    # mean ranks differ to tell two of them apart (Nemenyi, 5%)?
    friedman = friedmanchisquare(*(complete[column] for column in complete)).pvalue
    q = studentized_range.ppf(0.95, n_systems, np.inf) / np.sqrt(2)
    difference = q * np.sqrt(n_systems * (n_systems + 1) / (6 * n_rows))
    return f"{line} (Friedman p = {friedman:.2f}; ranks differ at 5% by {difference:.2f} or more)"


def _ensemble_lines(runs: pd.DataFrame) -> list[str]:
    """The ensemble against the best single pipeline of the same search, per system."""
    lines = []
    for system, group in runs.groupby("system"):
        gain = pd.Series(
            _sign(group) * (group["test_score"] - group["single_test_score"]).to_numpy()
        )
        gain = gain.groupby(group["dataset"].to_numpy()).mean()  # over seeds
        slower = group["predict_seconds_per_1000"] / group["single_predict_seconds_per_1000"]
        lines.append(
            f"{system} ensemble vs its best single pipeline: better on {(gain > 0).sum()}, "
            f"equal on {(gain == 0).sum()}, worse on {(gain < 0).sum()} of {len(gain)} "
            f"datasets; median gain {gain.median():+.4f}, worst {gain.min():+.4f} (ROC AUC, or "
            f"minus log loss); members median {group['n_members'].median():.0f}; prediction "
            f"per 1,000 rows median {group['predict_seconds_per_1000'].median() * 1000:.1f} ms "
            f"vs {group['single_predict_seconds_per_1000'].median() * 1000:.1f} ms "
            f"(x{slower.median():.1f})"
        )
        lines.extend(_combiner_lines(system, group))
    return lines


def _combiner_lines(system: str, group: pd.DataFrame) -> list[str]:
    """Best pipeline, ensemble selection and stacking, cross-fitted on out-of-fold rows."""
    if "combiners" not in group:
        return []
    runs = group[[isinstance(c, dict) and bool(c) for c in group["combiners"]]]
    if runs.empty:
        return []
    table = pd.DataFrame(list(runs["combiners"]), index=runs["dataset"]).mul(_sign(runs), axis=0)
    table = table.groupby(level=0).mean()  # over seeds
    ranks = table.rank(axis=1, ascending=False).mean().sort_values()
    wins = {name: int((table[name] > table["best"]).sum()) for name in table if name != "best"}
    return [
        f"{system} combiners on held-out out-of-fold rows ({len(table)} datasets): mean rank "
        + ", ".join(f"{name} {rank:.2f}" for name, rank in ranks.items())
        + "; better than the best pipeline on "
        + ", ".join(f"{wins[name]} ({name})" for name in wins)
    ]


def versus(results: pd.DataFrame, first: str, second: str) -> str:
    """How ``first`` ("system@budget") does against ``second`` on the datasets both ran:
    on the test score, and on the best CV score (what the search itself optimises); then
    the datasets where the two differ on test consistently over the seeds."""
    ok = results[results["status"] == "ok"]
    chosen = [_runs_of(ok, run) for run in (first, second)]
    lines = []
    for column, what in (("test_score", "test score"), ("cv_score", "best CV score")):
        objectives = [_signed(runs, column).groupby(level="dataset").mean() for runs in chosen]
        both = pd.concat(objectives, axis=1, join="inner").dropna()
        if both.empty:
            continue
        difference = both[0] - both[1]
        better, worse = int((difference > 0).sum()), int((difference < 0).sum())
        lines.append(
            f"{first} vs {second}, {what}, on {len(both)} datasets: better on {better}, "
            f"equal on {(difference == 0).sum()}, worse on {worse}; median difference "
            f"{difference.median():+.4f} (ROC AUC, or minus log loss); sign test "
            f"p = {_sign_test(better, worse):.2f}"
        )
    tests = [_signed(runs, "test_score") for runs in chosen]
    lines.append(_consistent_line(first, second, *tests))
    return "\n".join(lines)


def _runs_of(ok: pd.DataFrame, run: str) -> pd.DataFrame:
    """The rows of ``run``, "system@budget"."""
    system, budget = run.rsplit("@", 1)
    return ok[(ok["system"] == system) & (ok["budget"] == float(budget))]


def _signed(runs: pd.DataFrame, column: str) -> pd.Series:
    """``column`` of each run by (dataset, seed), larger better on every metric; NaN where
    a system has no such column (FLAML: no CV score)."""
    values = runs.get(column, pd.Series(np.nan, runs.index))
    index = pd.MultiIndex.from_frame(runs[["dataset", "seed"]])
    return pd.Series(_sign(runs) * values.to_numpy(), index)


def _consistent_line(first: str, second: str, ours: pd.Series, theirs: pd.Series) -> str:
    """The datasets where ``first`` and ``second`` (test scores ``ours`` and ``theirs``,
    see :func:`_signed`) differ split after split: a paired t-test over the seeds both
    ran (three or more), at 5%.

    Why: the counts of datasets better and worse take each dataset's mean over a few
    splits, whose noise can be as large as the difference; chance alone tells apart
    about one dataset in twenty here.
    """
    difference = (ours - theirs).dropna()
    tested, apart = 0, {"better": [], "worse": []}
    for dataset, values in difference.groupby(level="dataset"):
        if len(values) < 3:
            continue
        tested += 1
        if values.std() > 0 and ttest_1samp(values, 0.0).pvalue < 0.05:
            apart["better" if values.mean() > 0 else "worse"].append(
                f"{dataset} {values.mean():+.4f}"
            )
    if not tested:
        return f"{first} vs {second}: no dataset with three seeds or more in common"
    return (
        f"{first} vs {second}, told apart split by split (paired t-test over the seeds, 5%; "
        f"{tested} datasets, chance alone about {0.05 * tested:.1f}): "
        + "; ".join(
            f"{side} on {len(names)}" + (f" ({', '.join(names)})" if names else "")
            for side, names in apart.items()
        )
    )


def _sign(runs: pd.DataFrame) -> np.ndarray:
    """+1 for each run whose metric is better larger (ROC AUC), -1 for log loss: scores
    times this compare the same way on every dataset."""
    return np.where(runs["metric"] == "log_loss", -1.0, 1.0)


def _sign_test(better: int, worse: int) -> float:
    """Two-sided p-value of ``better`` wins against ``worse`` losses if either were as
    likely (ties left out): how often chance alone splits them at least this unevenly."""
    return binomtest(better, better + worse).pvalue if better + worse else 1.0


def _fmt(value: float) -> str:
    return f"{value:.4f}"


def anytime_curves(results: pd.DataFrame, budget: float) -> dict[str, np.ndarray]:
    """Mean normalised best-so-far CV score of each AutoClassifier variant on a time grid."""
    runs = results[
        (results["status"] == "ok")
        & (results["budget"] == budget)
        & results["system"].str.startswith("automl")
    ]
    grid = np.linspace(0, budget, _GRID_POINTS)
    curves: dict[str, list[np.ndarray]] = {}
    for _, split in runs.groupby(["dataset", "seed"]):  # a seed is another split
        sign = _sign(split)[0]
        paths = {
            row.system: np.array(row.trajectory, dtype=float).reshape(-1, 2)
            for row in split.itertuples()
        }
        paths = {s: p * [1.0, sign] for s, p in paths.items() if len(p)}
        if not paths:
            continue
        low = min(p[0, 1] for p in paths.values())
        high = max(p[-1, 1] for p in paths.values())
        for system, path in paths.items():
            index = np.searchsorted(path[:, 0], grid, side="right") - 1
            values = np.where(index >= 0, path[np.maximum(index, 0), 1], low)
            normalised = (values - low) / (high - low) if high > low else np.ones_like(grid)
            curves.setdefault(system, []).append(np.clip(normalised, 0, 1))
    return {"_grid": grid, **{s: np.mean(c, axis=0) for s, c in curves.items()}}


def plot_anytime(results: pd.DataFrame, path: str) -> None:
    """One panel per budget: normalised best CV score against elapsed time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    budgets = sorted(results.loc[results["system"].str.startswith("automl"), "budget"].unique())
    figure, axes = plt.subplots(1, len(budgets), figsize=(6 * len(budgets), 4.5), squeeze=False)
    for axis, budget in zip(axes[0], budgets, strict=True):
        curves = anytime_curves(results, budget)
        grid = curves.pop("_grid")
        for system, curve in sorted(curves.items()):
            axis.plot(grid, curve, label=system)
        axis.set(
            title=f"budget {budget:g} s",
            xlabel="seconds",
            ylabel="normalised best CV score (mean over datasets)",
            ylim=(0, 1.02),
        )
        axis.grid(alpha=0.3)
        axis.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=120)


if __name__ == "__main__":
    sys.exit(main())
