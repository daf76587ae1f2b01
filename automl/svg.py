"""Small inline SVG charts for the HTML report: no plotting library needed to read it.

Each function returns one ``<svg>`` element as text, sized in pixels, with axes,
ticks and a legend where it has series; values are escaped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from itertools import pairwise

#: Colours of the series, in order (Okabe and Ito's colour-blind-safe palette).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
           "#000000", "#999999", "#8C564B", "#17BECF")  # fmt: skip
_WIDTH, _HEIGHT, _LEFT, _RIGHT, _TOP, _BOTTOM = 900, 340, 64, 190, 16, 44
#: Bar labels: pixels a character takes, about, at 12 px, and the most they may take.
_CHARACTER_WIDTH, _MAX_LABEL_WIDTH = 6.6, 460


def scatter_with_line(
    points: Mapping[str, Sequence[tuple[float, float]]],
    line: Sequence[tuple[float, float]],
    *,
    x_label: str,
    y_label: str,
    line_label: str,
) -> str:
    """Points coloured by series, and a step line (e.g. the best score so far) over them."""
    everything = [p for series in points.values() for p in series] + list(line)
    if not everything:
        return ""
    xs, ys = [x for x, _ in everything], [y for _, y in everything]
    x_scale = _Scale(min(0.0, min(xs)), max(xs), _LEFT, _WIDTH - _RIGHT)
    y_scale = _Scale(min(ys), max(ys), _HEIGHT - _BOTTOM, _TOP)
    parts = [_axes(x_scale, y_scale, x_label, y_label)]
    for (name, series), colour in zip(points.items(), PALETTE * 3, strict=False):
        for x, y in series:
            parts.append(
                f'<circle class="point" cx="{x_scale(x):.1f}" cy="{y_scale(y):.1f}" r="3.5" '
                f'fill="{colour}" fill-opacity="0.75"><title>{escape(name)}: {y:.4g} at '
                f"{x:.1f} s</title></circle>"
            )
    if line:
        steps = [(line[0][0], line[0][1])]
        for (_, y_before), (x, y) in pairwise(line):
            steps += [(x, y_before), (x, y)]
        steps.append((x_scale.high, line[-1][1]))
        path = " ".join(f"{x_scale(x):.1f},{y_scale(y):.1f}" for x, y in steps)
        parts.append(f'<polyline class="best" points="{path}" fill="none" stroke="#222" '
                     'stroke-width="2"/>')  # fmt: skip
    legend = [(name, colour) for name, colour in zip(points, PALETTE * 3, strict=False)]
    parts.append(_legend([*legend, (line_label, "#222")]))
    return _svg(parts)


def bars(values: Mapping[str, float], *, x_label: str) -> str:
    """Horizontal bars, one per label, in the order given."""
    if not values:
        return ""
    height = _TOP + _BOTTOM + 22 * len(values)
    start = min(_MAX_LABEL_WIDTH, max(len(label) for label in values) * _CHARACTER_WIDTH) + 12
    scale = _Scale(0.0, max(values.values()) or 1.0, start, _WIDTH - 40)
    parts = []
    for row, (label, value) in enumerate(values.items()):
        y, end = _TOP + 22 * row, scale(value)
        parts.append(
            f'<text x="{start - 8}" y="{y + 15}" text-anchor="end" font-size="12">'
            f"{escape(_shorten(label))}</text>"
            f'<rect class="bar" x="{start}" y="{y + 3}" width="{end - start:.1f}" height="16" '
            f'fill="{PALETTE[0]}"><title>{escape(label)}: {value:.3f}</title></rect>'
            f'<text x="{end + 4:.1f}" y="{y + 15}" font-size="11">{value:.2f}</text>'
        )
    parts.append(f'<text x="{(start + _WIDTH - 40) / 2}" y="{height - 12}" text-anchor="middle" '
                 f'font-size="12">{escape(x_label)}</text>')  # fmt: skip
    return _svg(parts, height=height)


def _shorten(label: str) -> str:
    """At most as many characters as fit left of the bars, the end kept (it says most)."""
    fit = int(_MAX_LABEL_WIDTH / _CHARACTER_WIDTH)
    return label if len(label) <= fit else "..." + label[-(fit - 3) :]


class _Scale:
    """Maps data values in ``[low, high]`` to pixels in ``[start, end]``."""

    def __init__(self, low: float, high: float, start: float, end: float):
        if high <= low:
            low, high = low - 0.5, high + 0.5
        margin = 0.04 * (high - low)
        self.low, self.high = low - margin * (low != 0), high + margin
        self.start, self.end = start, end

    def __call__(self, value: float) -> float:
        share = (value - self.low) / (self.high - self.low)
        return self.start + share * (self.end - self.start)

    def ticks(self, count: int = 5) -> list[float]:
        step = _nice_step((self.high - self.low) / count)
        first = math.ceil(self.low / step) * step
        return [first + i * step for i in range(count + 2) if first + i * step <= self.high]


def _nice_step(rough: float) -> float:
    magnitude = 10 ** math.floor(math.log10(rough))
    return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= rough)


def _axes(x_scale: _Scale, y_scale: _Scale, x_label: str, y_label: str) -> str:
    bottom, right = _HEIGHT - _BOTTOM, _WIDTH - _RIGHT
    parts = [
        f'<line x1="{_LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#444"/>',
        f'<line x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{bottom}" stroke="#444"/>',
    ]
    for x in x_scale.ticks():
        parts.append(f'<text x="{x_scale(x):.1f}" y="{bottom + 16}" text-anchor="middle" '
                     f'font-size="11">{x:g}</text>')  # fmt: skip
    for y in y_scale.ticks():
        parts.append(
            f'<line x1="{_LEFT}" y1="{y_scale(y):.1f}" x2="{right}" y2="{y_scale(y):.1f}" '
            f'stroke="#ddd"/><text x="{_LEFT - 6}" y="{y_scale(y) + 4:.1f}" text-anchor="end" '
            f'font-size="11">{y:.4g}</text>'
        )
    parts.append(f'<text x="{(_LEFT + right) / 2}" y="{_HEIGHT - 8}" text-anchor="middle" '
                 f'font-size="12">{escape(x_label)}</text>')  # fmt: skip
    parts.append(f'<text transform="translate(14 {(_TOP + bottom) / 2}) rotate(-90)" '
                 f'text-anchor="middle" font-size="12">{escape(y_label)}</text>')  # fmt: skip
    return "".join(parts)


def _legend(entries: Sequence[tuple[str, str]]) -> str:
    x = _WIDTH - _RIGHT + 14
    return "".join(
        f'<rect x="{x}" y="{_TOP + 18 * i}" width="10" height="10" fill="{colour}"/>'
        f'<text x="{x + 16}" y="{_TOP + 18 * i + 9}" font-size="11">{escape(name)}</text>'
        for i, (name, colour) in enumerate(entries)
    )


def _svg(parts: Sequence[str], *, height: int = _HEIGHT) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{height}" '
        f'viewBox="0 0 {_WIDTH} {height}" font-family="sans-serif">{"".join(parts)}</svg>'
    )
