"""How good is the best of a search's first k pipelines, by the knowledge base alone?

Leave-one-dataset-out over the knowledge base in metadata/: for each reference dataset,
the knowledge base less it (and its near-duplicates) orders an opening, and the
held-out dataset's own portfolio scores (3-fold CV on at most 1,000 rows) say how far
the best of its first k pipelines falls short of the best candidate there. Offline:
no search runs, costs and fidelities are ignored; it ranks orderings, it does not
predict a search's score. Openings compared:

    defaults           every classifier's default, in the grammar's order (a cold start)
    nearest first      the nearest datasets' best pipelines alternating with the greedy
                       portfolio, then the defaults they leave out
    portfolio first    the same, the portfolio's picks first (the warm start's order)
    portfolio only     the greedy portfolio, then the defaults it leaves out

With ``--keep``, the knowledge base also loses a random share of the other reference
datasets (``--draws`` draws each): how the warm start's picks would fare with fewer
reference datasets, and so whether more of them would help.

    python benchmarks/opening_regret.py [--k 1 2 3 5 8] [--keep 1.0 0.75 0.5 0.25]
"""

from __future__ import annotations

import argparse

import numpy as np

from automl.components import default_candidates
from automl.grammar import PipelineSpec
from automl.knowledge import KnowledgeBase
from automl.metafeatures import METAFEATURE_NAMES
from automl.metrics import METRICS
from automl.warmstart import MAX_SEEDS, N_NEAREST, NEIGHBOURHOOD, interleave, opening


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--k", type=int, nargs="+", default=[1, 2, 3, 5, 8])
    parser.add_argument("--keep", type=float, nargs="+", default=[1.0])
    parser.add_argument("--draws", type=int, default=4)
    args = parser.parse_args()
    knowledge = KnowledgeBase.load()
    defaults = [p.key for p in default_candidates()]
    missing = set(defaults) - set(knowledge.portfolio)
    if missing:
        raise SystemExit(f"The knowledge base has not scored the defaults {sorted(missing)}.")
    rng = np.random.default_rng(0)
    for keep in args.keep:
        draws = 1 if keep == 1.0 else args.draws
        kept = round(keep * (len(knowledge) - 1))
        print(f"reference datasets kept: {keep:.0%} of the others (about {kept}), {draws} draws")
        shortfalls = {name: {"roc_auc": [], "log_loss": []} for name in ORDERS}
        for _ in range(draws):
            _leave_each_out(knowledge, defaults, keep, rng, args.k, shortfalls)
        _print(shortfalls, args.k)


def _leave_each_out(knowledge, defaults, keep, rng, ks, shortfalls) -> None:
    """Each reference dataset's shortfalls, by opening, from a knowledge base without it
    and, unless ``keep`` is 1, without a random share ``1 - keep`` of the others."""
    for j, name in enumerate(knowledge.datasets.index):
        rest = knowledge.without([name])
        others = rest.datasets.index.to_numpy()
        dropped = rng.choice(others, round((1 - keep) * len(others)), replace=False)
        rest = rest.without(dropped) if len(dropped) else rest
        query = knowledge.datasets.loc[name, list(METAFEATURE_NAMES)].to_dict()
        neighbours = rest.nearest(query, NEIGHBOURHOOD)
        nearest = [rest.best_pipelines(n, 1)[0].key for n in neighbours[:N_NEAREST]]
        portfolio = [p.key for p in rest.greedy_portfolio(MAX_SEEDS, neighbours)]
        metric = knowledge.datasets["metric"].iloc[j]
        for order, arrange in ORDERS.items():
            seeds = list(dict.fromkeys(arrange(nearest, portfolio)))[:MAX_SEEDS]
            first = opening(*_specs(knowledge, seeds, defaults), defaults_first=False)
            shortfalls[order][metric].append(_shortfall(knowledge, j, [p.key for p in first], ks))


def _print(shortfalls: dict, ks: list[int]) -> None:
    for metric in ("roc_auc", "log_loss"):
        print(f"{metric}: shortfall of the best of the first k to the best candidate")
        print(f"  {'opening':16s}" + "".join(f"  k={k}: median / mean" for k in ks))
        for order in ORDERS:
            values = np.array(shortfalls[order][metric])
            cells = "".join(
                f"  {np.median(values[:, i]):>11.4f} / {np.mean(values[:, i]):.3f}"
                for i in range(len(ks))
            )
            print(f"  {order:16s}{cells}")
        ours, theirs = (np.array(shortfalls[o][metric]) for o in ("portfolio first", "defaults"))
        print(f"  portfolio first vs defaults, datasets better / worse: {_versus(ours, theirs)}")
        theirs = np.array(shortfalls["nearest first"][metric])
        print(f"  portfolio first vs nearest first, better / worse: {_versus(ours, theirs)}")


ORDERS = {
    "defaults": lambda nearest, portfolio: [],
    "nearest first": lambda nearest, portfolio: interleave(nearest, portfolio),
    "portfolio first": lambda nearest, portfolio: interleave(portfolio, nearest),
    "portfolio only": lambda nearest, portfolio: portfolio,
}


def _specs(knowledge: KnowledgeBase, *keys: list[str]) -> list[list[PipelineSpec]]:
    return [[knowledge.pipelines[key] for key in group] for group in keys]


def _shortfall(knowledge: KnowledgeBase, j: int, opening: list[str], ks: list[int]) -> list[float]:
    """How far the best of the first k of ``opening`` is from the best candidate on dataset j."""
    greater = METRICS[knowledge.datasets["metric"].iloc[j]].greater_is_better
    scores = knowledge.scores[:, j] * (1 if greater else -1)
    scores = np.where(np.isfinite(scores), scores, np.nanmin(scores))  # a failure: the worst
    row = {key: i for i, key in enumerate(knowledge.portfolio)}
    top = scores.max()
    return [top - max(scores[row[key]] for key in opening[:k]) for k in ks]


def _versus(ours: np.ndarray, theirs: np.ndarray) -> list[tuple[int, int]]:
    return [
        (int((ours[:, i] < theirs[:, i]).sum()), int((ours[:, i] > theirs[:, i]).sum()))
        for i in range(ours.shape[1])
    ]


if __name__ == "__main__":
    main()
