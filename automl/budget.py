"""The limits of one ``fit``: fixed at its start, read by every stage."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Budget:
    """Time and evaluation-count limits, in the seconds of the fit's clock.

    ``time_budget=None`` means no time limit (then ``max_evals`` bounds the
    search); ``eval_time_limit`` bounds each evaluation on its own.
    """

    start: float
    time_budget: float | None = None
    max_evals: int | None = None
    eval_time_limit: float = math.inf

    @property
    def end(self) -> float:
        return math.inf if self.time_budget is None else self.start + self.time_budget

    def time_left(self, now: float) -> float:
        return self.end - now

    @property
    def grace(self) -> float:
        """Seconds past the end that a last step may take.

        ``fit`` promises to return within ``time_budget + max(5 s, 5%)``, and within
        ``time_budget * 1.05 + 3`` s where that is less (budgets under 40 s); this
        leaves one of those seconds for what follows the last step.
        """
        if self.time_budget is None:
            return 0.0
        return min(0.05 * self.time_budget + 3, max(5.0, 0.05 * self.time_budget)) - 1.0

    def last_step_time_left(self, now: float) -> float:
        """Seconds the last step (the final refit) may still take: the time left and the grace."""
        return self.time_left(now) + self.grace

    def evals_left(self, n_done: int) -> float:
        return math.inf if self.max_evals is None else self.max_evals - n_done
