"""The interface every search strategy implements: ask for a pipeline, tell its result.

Strategies see the shared history only through :meth:`Searcher.tell`, so that
any of them can be swapped for another, or composed with one, without the loop
that runs the evaluations knowing which it is.
"""

from __future__ import annotations

from typing import Protocol

from automl.history import Proposal, Trial


class Searcher(Protocol):
    """Proposes pipelines and learns from how they did."""

    def ask(self) -> Proposal | None:
        """The next pipeline to evaluate, or None when the strategy has nothing left."""

    def tell(self, trial: Trial) -> None:
        """The outcome of a pipeline this searcher proposed."""
