"""A one-line view of a running search: time used, evaluations, best score so far."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO

from automl.history import History

#: Without a terminal (a log file, CI) a new line at most this often, in seconds.
_LOG_INTERVAL = 5.0


class Progress:
    """Called after each trial; redraws one line on a terminal, appends lines otherwise."""

    def __init__(
        self,
        *,
        time_budget: float | None,
        clock: Callable[[], float],
        start: float,
        stream: TextIO | None = None,
    ):
        self.stream = stream or sys.stderr
        self.time_budget = time_budget
        self._clock, self._start = clock, start
        self._interactive = self.stream.isatty()
        self._last_line = -float("inf")

    def __call__(self, history: History) -> None:
        now = self._clock()
        if self._interactive:
            self.stream.write("\r" + self.line(history) + "\033[K")
        elif now - self._last_line >= _LOG_INTERVAL:
            self.stream.write(self.line(history) + "\n")
            self._last_line = now
        self.stream.flush()

    def close(self, history: History) -> None:
        """The final state, on a line of its own."""
        end = "\n" if self._interactive else ""
        self.stream.write(end + self.line(history) + "\n")
        self.stream.flush()

    def line(self, history: History) -> str:
        elapsed = self._clock() - self._start
        budget = f" / {self.time_budget:.0f}s" if self.time_budget is not None else ""
        n_ok = sum(t.ok for t in history.trials)
        best = history.best()
        best_text = (
            f"best {history.metric.name} {best.score:.4f} ({best.pipeline.classifier.name})"
            if best is not None
            else "no result yet"
        )
        return f"[{elapsed:6.1f}s{budget}] {len(history)} evaluations ({n_ok} ok), {best_text}"
