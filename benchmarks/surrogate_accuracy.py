"""How well does the surrogate rank pipelines it has not seen, by the knowledge base alone?

For each reference dataset in metadata/, the surrogate is told the portfolio scores
(3-fold CV on at most 1,000 rows) of ``--seen`` candidates drawn at random and predicts
the others; the Spearman correlation of its predictions with their scores says how
well it ranks them, over all of them and among those of one classifier (the choice
evolution's children mostly pose). Offline: no search runs, fidelities and costs are
ignored, and the portfolio's pipelines are more varied than a search's. Compared:

    surrogate          automl's Surrogate: its classifier's shrunk mean rank plus a
                       forest over the residuals
    forest             the forest alone on the encoding and raw scores (the surrogate
                       before e6c54a6)
    classifier mean    the classifier's shrunk mean rank alone

    python benchmarks/surrogate_accuracy.py [--seen 30] [--draws 3]
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy.stats import spearmanr

from automl.components import EVERY_COMPONENT, default_grammar
from automl.history import Trial
from automl.knowledge import KnowledgeBase
from automl.metrics import METRICS
from automl.search.surrogate import Surrogate

#: Unseen pipelines of one classifier needed to rank them among themselves.
MIN_FAMILY = 5
#: Unseen pipelines a dataset needs to take part.
MIN_UNSEEN = 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seen", type=int, default=30)
    parser.add_argument("--draws", type=int, default=3)
    args = parser.parse_args()
    knowledge = KnowledgeBase.load()
    grammar = default_grammar(EVERY_COMPONENT)
    rng = np.random.default_rng(0)
    overall, within = {}, {}
    for j, name in enumerate(knowledge.datasets.index):
        metric = METRICS[knowledge.datasets.loc[name, "metric"]]
        scored = np.flatnonzero(~np.isnan(knowledge.scores[:, j]))
        if len(scored) < args.seen + MIN_UNSEEN:
            continue
        pipelines = [knowledge.pipelines[knowledge.portfolio[i]] for i in scored]
        scores = knowledge.scores[scored, j]
        for draw in range(args.draws):
            order = rng.permutation(len(scored))
            seen, unseen = order[: args.seen], order[args.seen :]
            predictions = _predictions(grammar, metric, pipelines, scores, seen, unseen, draw)
            objective = metric.objective(scores[unseen])
            families = np.array([pipelines[i].classifier.name for i in unseen])
            for model, predicted in predictions.items():
                overall.setdefault(model, {}).setdefault(name, []).append(
                    _spearman(predicted, objective)
                )
                for family in set(families):
                    mask = families == family
                    if mask.sum() >= MIN_FAMILY:
                        within.setdefault(model, []).append(
                            _spearman(predicted[mask], objective[mask])
                        )
    if not overall:
        parser.error(
            f"--seen {args.seen}: no reference dataset has {args.seen + MIN_UNSEEN} scored "
            f"candidates (the portfolio holds {len(knowledge.portfolio)}); choose fewer"
        )
    _report(overall, within, args)


def _predictions(grammar, metric, pipelines, scores, seen, unseen, seed) -> dict[str, np.ndarray]:
    """The surrogate's predictions, and those of its two parts alone, as it builds them."""
    surrogate = Surrogate(grammar, metric, random_state=seed)
    for number, i in enumerate(seen):
        surrogate.tell(Trial(number, pipelines[i], "portfolio", "ok", score=scores[i], duration=1))
    unseen_pipelines = [pipelines[i] for i in unseen]
    mean, _ = surrogate.predict(unseen_pipelines)
    forest = surrogate._forest().fit(surrogate._fitted_X, metric.objective(scores[seen]))
    return {
        "surrogate": mean,
        "forest": forest.predict(surrogate._at_full_fidelity(unseen_pipelines)),
        "classifier mean": surrogate._priors(unseen_pipelines),
    }


def _spearman(predicted: np.ndarray, truth: np.ndarray) -> float:
    if np.ptp(predicted) == 0 or np.ptp(truth) == 0:
        return 0.0  # a constant ranks nothing
    return float(spearmanr(predicted, truth)[0])


def _report(overall: dict, within: dict, args: argparse.Namespace) -> None:
    models = list(overall)
    by_dataset = {m: np.array([np.mean(v) for v in overall[m].values()]) for m in models}
    n = len(by_dataset[models[0]])
    print(f"{n} reference datasets, {args.seen} pipelines seen, {args.draws} draws each")
    print("Spearman of predicted and true score of the unseen pipelines, mean over datasets:")
    for model in models:
        print(f"  {model:<16} all {by_dataset[model].mean():.3f}   within one classifier "
              f"{np.mean(within[model]):.3f} ({len(within[model])} groups)")  # fmt: skip
    for model in models[1:]:
        better = int(np.sum(by_dataset["surrogate"] > by_dataset[model] + 1e-9))
        worse = int(np.sum(by_dataset["surrogate"] < by_dataset[model] - 1e-9))
        print(f"  surrogate against {model}: better on {better} datasets, worse on {worse}")


if __name__ == "__main__":
    main()
