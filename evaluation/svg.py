"""Small inline SVG charts for the HTML report (no plotting library, no scripts)."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

FONT = 'font-family="system-ui, sans-serif" font-size="12"'


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    color: str = "#4c78a8"
    text: str = ""  # shown after the bar; defaults to the value


@dataclass(frozen=True)
class Point:
    """A value with a confidence interval, e.g. pass@1 of one run."""

    label: str
    value: float
    low: float
    high: float
    highlight: bool = False


def bar_chart(bars: list[Bar], *, max_value: float, width: int = 560, title: str = "") -> str:
    """Horizontal bars, one per row, scaled to ``max_value``."""
    label_w, row_h, top = 110, 24, 24 if title else 6
    plot_w = width - label_w - 200  # room for the value text after the longest bar
    height = top + row_h * len(bars) + 6
    parts = [_open(width, height, title)]
    if title:
        parts.append(f'<text x="0" y="15" {FONT} font-weight="bold">{escape(title)}</text>')
    for i, bar in enumerate(bars):
        y = top + i * row_h
        length = 0 if max_value <= 0 else max(0.0, min(1.0, bar.value / max_value)) * plot_w
        parts += [
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" {FONT}>'
            f"{escape(bar.label)}</text>",
            f'<rect x="{label_w}" y="{y + 3}" width="{length:.1f}" height="{row_h - 8}" '
            f'fill="{bar.color}"><title>{escape(bar.label)}: {escape(bar.text or str(bar.value))}'
            "</title></rect>",
            f'<text x="{label_w + length + 5:.1f}" y="{y + 15}" {FONT}>'
            f"{escape(bar.text or f'{bar.value:g}')}</text>",
        ]
    return "".join(parts) + "</svg>"


def interval_chart(points: list[Point], *, width: int = 560, title: str = "") -> str:
    """Values in [0, 1] as dots with interval whiskers, left to right (e.g. runs over time).

    Labels go under the axis: keep them short (the report numbers its runs and lists them).
    """
    left, top, bottom, height = 40, 24 if title else 8, 30, 220
    plot_h = height - top - bottom
    step = (width - left - 20) / max(1, len(points))
    parts = [_open(width, height, title)]
    if title:
        parts.append(f'<text x="0" y="15" {FONT} font-weight="bold">{escape(title)}</text>')
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = top + (1 - tick) * plot_h
        parts += [
            f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>',
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" {FONT}>{tick:.0%}</text>',
        ]
    for i, point in enumerate(points):
        x = left + step * (i + 0.5)
        y, y_low, y_high = (top + (1 - v) * plot_h for v in (point.value, point.low, point.high))
        color = "#e45756" if point.highlight else "#4c78a8"
        tip = f"{point.label}: {point.value:.1%} [{point.low:.1%}, {point.high:.1%}]"
        parts += [
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y_low:.1f}" y2="{y_high:.1f}" '
            f'stroke="{color}" stroke-width="2"/>',
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{color}"><title>{escape(tip)}'
            "</title></circle>",
            f'<text x="{x:.1f}" y="{top + plot_h + 18}" text-anchor="middle" {FONT}>'
            f"{escape(point.label)}</text>",
        ]
    return "".join(parts) + "</svg>"


def line_chart(
    values: list[float],
    *,
    x_first: float = 1,
    x_step: float = 1,
    x_label: str = "",
    width: int = 560,
    title: str = "",
) -> str:
    """One series as a polyline over its own range (e.g. a training loss by step).

    ``values[i]`` belongs to x = ``x_first + i * x_step`` (a loss kept every k-th step from
    step 1 has ``x_step`` k); the axes show the first and last x and the extreme values.
    """
    left, right, top, bottom, height = 56, 14, 24 if title else 8, 30, 220
    plot_w, plot_h = width - left - right, height - top - bottom
    parts = [_open(width, height, title)]
    if title:
        parts.append(f'<text x="0" y="15" {FONT} font-weight="bold">{escape(title)}</text>')
    if not values:
        return "".join(parts) + f'<text x="{left}" y="{top + 20}" {FONT}>no data</text></svg>'
    low, high = min(values), max(values)
    span = (high - low) or 1.0  # a flat series is drawn mid-height, not divided by zero
    last_x = x_first + (len(values) - 1) * x_step

    def place(i: int, value: float) -> str:
        x = left + (plot_w * i / (len(values) - 1) if len(values) > 1 else plot_w / 2)
        y = top + (plot_h / 2 if high == low else (high - value) / span * plot_h)
        return f"{x:.1f},{y:.1f}"

    points = " ".join(place(i, v) for i, v in enumerate(values))
    parts += [
        f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h}" stroke="#999"/>',
        f'<line x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" y2="{top + plot_h}" '
        'stroke="#999"/>',
        f'<text x="{left - 4}" y="{top + 10}" text-anchor="end" {FONT}>{high:.3g}</text>',
        f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end" {FONT}>{low:.3g}</text>',
        f'<text x="{left}" y="{top + plot_h + 18}" {FONT}>{x_first:g}</text>',
        f'<text x="{left + plot_w}" y="{top + plot_h + 18}" text-anchor="end" {FONT}>'
        f"{escape(x_label)} {last_x:g}</text>",
        f'<polyline points="{points}" fill="none" stroke="#4c78a8" stroke-width="2">'
        f"<title>{escape(title)}: {values[0]:.4g} → {values[-1]:.4g}</title></polyline>",
    ]
    return "".join(parts) + "</svg>"


def _open(width: int, height: int, title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
    )
