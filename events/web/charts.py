"""Server-rendered SVG charts: pure functions from numbers to markup, no JavaScript, no CDN.

Each chart is an `<svg role="img">` named by its own `<title>` (aria-labelledby), with a fixed
viewBox so it scales to the width of its container. Screen readers get the numbers from the
table the page puts beside every chart; the chart itself is for the eye. Every label is
escaped, because titles come from organisers and participants.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from html import escape

from markupsafe import Markup

# The stylesheet's palette (events/static/style.css :root): presentation attributes, not
# inline styles, so the strict Content-Security-Policy has nothing to object to.
INK = "#1b2430"
MUTED = "#4a5565"
LINE = "#d9dde3"
ACCENT = "#1d5c7a"

# viewBox widths: bar charts sit beside a table, so narrower (larger text on a phone).
WIDTH = 640
BAR_WIDTH = 480
FONT = 'font-family="system-ui, sans-serif"'


def _plain(text: object) -> str:
    """Text as a reader sees it: a Markup label (a translated string from a template) is
    unescaped first, so it is escaped exactly once below."""
    if isinstance(text, Markup):
        return str.__str__(text.unescape())
    return str.__str__(str(text))


def _e(text: object) -> str:
    return escape(_plain(text), quote=True)


def _id(chart_id: str) -> str:
    """An id safe in an XML attribute and in a URL fragment."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]", "-", chart_id).strip("-")
    return cleaned if cleaned and cleaned[0].isalpha() else f"chart-{cleaned}"


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def _axis(value: float, ticks: int = 4) -> tuple[float, int]:
    """A round step (1, 2 or 5 × 10ⁿ, at least 1: counts are whole) and how many steps reach
    `value`, so the value axis reads 0, 2, 4, 6 rather than 0, 1.2, 2.5."""
    if value <= 0:
        return 1, 1
    rough = value / ticks
    magnitude = 10 ** math.floor(math.log10(rough))
    step = next(m * magnitude for m in (1, 2, 5, 10) if rough <= m * magnitude)
    step = max(step, 1)
    return step, max(1, math.ceil(value / step))


def _open(chart_id: str, title: str, width: int, height: int, css_class: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {css_class}" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" role="img" aria-labelledby="{chart_id}-title">'
        f'<title id="{chart_id}-title">{_e(title)}</title>'
    )


def _empty(chart_id: str, title: str, width: int, empty_text: str, css_class: str) -> Markup:
    return Markup(  # noqa: S704 - every piece of text is escaped above  # nosec B704
        _open(chart_id, title, width, 60, css_class)
        + f'<text x="{width // 2}" y="35" text-anchor="middle" fill="{MUTED}" font-size="16" {FONT}>'
        + f"{_e(empty_text)}</text></svg>"
    )


def bar_chart(
    items: Sequence[tuple[str, float]],
    *,
    chart_id: str,
    title: str,
    empty_text: str = "",
    label_chars: int = 24,
) -> Markup:
    """A horizontal bar chart: one labelled bar per (label, value), values written at the end
    of the bars. Labels longer than `label_chars` are shortened (the full label is the bar's
    tooltip). No items: a chart that says `empty_text`."""
    chart_id = _id(chart_id)
    if not items:
        return _empty(chart_id, title, BAR_WIDTH, empty_text, "bar-chart")
    # About 8 units per character at font-size 14 (wide letters included): room for
    # `label_chars` characters, or fewer when half the chart cannot hold that many.
    row, bar, top, right = 32, 22, 8, 56
    label_width = min(16 + 8 * label_chars, BAR_WIDTH // 2)
    label_chars = min(label_chars, (label_width - 16) // 8)
    height = top * 2 + row * len(items)
    plot = BAR_WIDTH - label_width - right
    scale = plot / max(max((v for _, v in items), default=0), 1)
    parts = [_open(chart_id, title, BAR_WIDTH, height, "bar-chart")]
    parts.append(
        f'<line x1="{label_width}" y1="{top - 4}" x2="{label_width}" y2="{height - top + 4}" '
        f'stroke="{LINE}" stroke-width="1"/>'
    )
    for index, (label, value) in enumerate(items):
        y = top + index * row
        length = max(value, 0) * scale
        text_y = y + bar / 2 + 5
        parts.append(
            f'<text x="{label_width - 8}" y="{text_y:.1f}" text-anchor="end" fill="{INK}" font-size="14" {FONT}>'
            f"{_e(_short(_plain(label), label_chars))}</text>"
            f'<rect class="bar" x="{label_width}" y="{y}" width="{length:.1f}" height="{bar}" fill="{ACCENT}">'
            f"<title>{_e(label)}: {_e(_number(value))}</title></rect>"
            f'<text x="{label_width + length + 6:.1f}" y="{text_y:.1f}" fill="{INK}" font-size="14" {FONT}>'
            f"{_e(_number(value))}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every piece of text is escaped above  # nosec B704


def column_chart(
    items: Sequence[tuple[str, float]],
    *,
    chart_id: str,
    title: str,
    empty_text: str = "",
    max_labels: int = 8,
) -> Markup:
    """A column chart over time (e.g. registrations per week): one column per (label, value)
    in the order given, a value axis with round ticks, and at most `max_labels` labels under
    the columns so they never overlap. No items: a chart that says `empty_text`."""
    chart_id = _id(chart_id)
    if not items:
        return _empty(chart_id, title, WIDTH, empty_text, "column-chart")
    height, top, bottom, left, right = 260, 16, 44, 44, 12
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    step, steps = _axis(max((v for _, v in items), default=0))
    axis_max = step * steps
    slot = plot_w / len(items)
    column = max(slot * 0.7, 1)
    every = max(1, math.ceil(len(items) / max_labels))
    parts = [_open(chart_id, title, WIDTH, height, "column-chart")]
    for tick in range(steps + 1):
        value = step * tick
        y = top + plot_h - plot_h * tick / steps
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{WIDTH - right}" y2="{y:.1f}" stroke="{LINE}" stroke-width="1"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{MUTED}" font-size="12" {FONT}>'
            f"{_e(_number(value))}</text>"
        )
    for index, (label, value) in enumerate(items):
        x = left + index * slot + (slot - column) / 2
        h = plot_h * max(value, 0) / axis_max
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{column:.1f}" height="{h:.1f}" '
            f'fill="{ACCENT}"><title>{_e(label)}: {_e(_number(value))}</title></rect>'
        )
        if index % every == 0:
            cx = left + index * slot + slot / 2
            parts.append(
                f'<text x="{cx:.1f}" y="{height - bottom + 18}" text-anchor="middle" fill="{MUTED}" '
                f'font-size="12" {FONT}>{_e(_short(_plain(label), 12))}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every piece of text is escaped above  # nosec B704
