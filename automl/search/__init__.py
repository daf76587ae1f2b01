"""Search strategies over the pipeline grammar, and the loop that runs them.

Every strategy is built as ``Strategy(grammar, metric, *, seeds, random_state)`` and
implements :class:`automl.search.base.Searcher`.
"""

from __future__ import annotations

from automl.search.bayes import BayesSearch
from automl.search.evolution import EvolutionSearch
from automl.search.hybrid import HybridSearch
from automl.search.random import RandomSearch

SEARCHERS = {
    "hybrid": HybridSearch,
    "evolution": EvolutionSearch,
    "bayes": BayesSearch,
    "random": RandomSearch,
}
