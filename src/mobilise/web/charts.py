"""Charts as server-rendered SVG (pygal): no script needed to see them, a title and a
data table beside each one for screen readers."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import pygal
from markupsafe import Markup
from pygal.style import Style

from mobilise.core.words import SIZE_UNITS

STYLE = Style(background="white", plot_background="white", foreground="#0b0c0c",
              foreground_strong="#0b0c0c", foreground_subtle="#505a5f",
              colors=("#1d70b8", "#00703c", "#d4351c", "#f47738", "#4c2c92", "#505a5f"),
              font_family="Arial, sans-serif", label_font_size=12, major_label_font_size=12,
              title_font_size=16, legend_font_size=12)


# pygal writes its configuration into an inline <script> even with js=[]; it is only read
# by pygal's tooltip script, which we never load, and the pages' Content-Security-Policy
# (script-src 'self') refuses inline scripts: so it goes, and the SVG stays static.
_INLINE_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.DOTALL | re.IGNORECASE)


def _svg(chart: Any) -> Markup:
    svg = _INLINE_SCRIPT.sub("", chart.render(is_unicode=True))
    return Markup(svg)  # noqa: S704 - pygal escapes labels


# About this many x labels fit across the 900-pixel chart at a 30 degree slant.
_MAX_X_LABELS = 16


def _spaced_labels(count: int) -> dict[str, Any]:
    """Print every n-th x label when there are more than fit (a weekly series over three
    years printed all 160 labels on top of each other)."""
    if count <= _MAX_X_LABELS:
        return {}
    return {"x_labels_major_every": -(-count // _MAX_X_LABELS), "show_minor_x_labels": False}


# Colours that carry a meaning keep it in every chart (GOV.UK's palette): a red risk is
# drawn red, never in the series' blue.
MEANING = {"red": "#d4351c", "amber": "#f47738", "green": "#00703c", "grey": "#505a5f",
           "blue": "#1d70b8", "purple": "#4c2c92"}


def bar_chart(title: str, data: Sequence[tuple[str, float]], link: str | None = None,
              height: int = 320, colours: Mapping[str, str] | None = None) -> Markup:
    """One bar per label; ``colours`` gives a bar its colour by meaning (a label to a
    name in ``MEANING`` or a colour)."""
    chart = pygal.Bar(style=STYLE, height=height, width=900, show_legend=False,
                      x_label_rotation=30, disable_xml_declaration=True, js=[])
    chart.title = title
    chart.x_labels = [label for label, _ in data]
    chart.add(title, [_point(label, value, link, colours) for label, value in data])
    return _svg(chart)


def _point(label: str, value: float, link: str | None,
           colours: Mapping[str, str] | None) -> Any:
    point: dict[str, Any] = {"value": value}
    if link:
        point["xlink"] = {"href": link.format(label), "target": "_self"}
    if colours and label in colours:
        point["color"] = MEANING.get(colours[label], colours[label])
    return point if len(point) > 1 else value


def size_unit(largest: float) -> tuple[str, int]:
    """The decimal unit that shows ``largest`` bytes as at least 1 (as ``size_text``): a
    chart of 0.2 TB reads "200 GB", never "0.000 TB"."""
    for limit, suffix in SIZE_UNITS:
        if largest >= limit:
            return suffix, limit
    return "B", 1


def bytes_chart(title: str, data: Sequence[tuple[str, int]], link: str | None = None,
                height: int = 320) -> Markup:
    """Bars of sizes in bytes, in the unit their largest needs; the unit ends the title."""
    unit, divisor = size_unit(max((b for _, b in data), default=0))
    return bar_chart(f"{title} ({unit})",
                     [(label, round(b / divisor, 1)) for label, b in data], link=link,
                     height=height)


def line_chart(title: str, x_labels: Sequence[str], series: dict[str, Sequence[float | None]],
               height: int = 320) -> Markup:
    chart = pygal.Line(style=STYLE, height=height, width=900, x_label_rotation=30,
                       disable_xml_declaration=True, js=[], show_dots=False,
                       **_spaced_labels(len(x_labels)))
    chart.title = title
    chart.x_labels = list(x_labels)
    for name, values in series.items():
        chart.add(name, list(values))
    return _svg(chart)


def grouped_bar_chart(title: str, x_labels: Sequence[str],
                      series: dict[str, Sequence[float | None]], height: int = 320,
                      y_title: str = "") -> Markup:
    """Several series side by side per label (approved, actual, forecast per year)."""
    chart = pygal.Bar(style=STYLE, height=height, width=900, x_label_rotation=0,
                      disable_xml_declaration=True, js=[], legend_at_bottom=True,
                      y_title=y_title or None)
    chart.title = title
    chart.x_labels = list(x_labels)
    for name, values in series.items():
        chart.add(name, list(values))
    return _svg(chart)
