"""Charts as server-rendered SVG: a Vega-Lite spec (altair) drawn to SVG by vl-convert in
the process, so no script is needed to see them (the pages' CSP is ``script-src 'self'``).

Each helper returns one piece of markup made to sit inside the template's
``<figure class="chart">`` before its ``<figcaption>``: the SVG (``role="img"``, named by its
title, described in words) and a ``<details>`` table of the same figures, one row a datum.
Time runs along real date axes, colours carry their meaning (``MEANING``: a red risk is
drawn red), lines differ by dash as well as colour, and sizes take the unit their largest
needs."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping, Sequence
from datetime import date
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from markupsafe import Markup, escape

from mobilise.core.words import SIZE_UNITS

if TYPE_CHECKING:
    import altair as alt

# Colours that carry a meaning keep it in every chart (GOV.UK's palette): a red risk is
# drawn red, never in the series' blue. Series without a meaning take the neutral blues.
MEANING = {"red": "#d4351c", "amber": "#f47738", "green": "#00703c", "grey": "#505a5f",
           "blue": "#1d70b8", "dark_blue": "#003078", "light_blue": "#5694ca",
           "purple": "#4c2c92"}
SERIES = ("#1d70b8", "#003078", "#5694ca", "#505a5f", "#4c2c92", "#85994b")
# Lines also differ by dash, so the legend reads without colour (and in print).
DASHES = ([1, 0], [8, 4], [2, 3], [10, 3, 2, 3], [4, 2], [1, 0])

# vl-convert measures text with its own fonts and writes the family into each <text>; the
# reader's browser then draws it in the first of these it has.
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
WIDTH = 640
# At most one date label per 80 pixels (``_date_axis`` picks the step); Vega also drops
# any label that would still overlap its neighbour.
DATE_TICKS = WIDTH // 80

_CONFIG: dict[str, Any] = {
    "font": FONT, "background": "white",
    "view": {"stroke": None},
    "title": {"fontSize": 15, "anchor": "start", "color": "#0b0c0c", "offset": 12},
    "axis": {"labelFontSize": 12, "titleFontSize": 12, "labelColor": "#0b0c0c",
             "titleColor": "#0b0c0c", "domainColor": "#505a5f", "tickColor": "#505a5f",
             "gridColor": "#e5e5e5"},
    "legend": {"labelFontSize": 12, "titleFontSize": 12, "orient": "bottom",
               "labelColor": "#0b0c0c", "titleColor": "#0b0c0c", "symbolStrokeWidth": 3,
               "symbolSize": 300, "labelLimit": 300},
}
# Vega resolves links against its data loader's base URL; the pages' links are local.
_VEGA_BASE = re.compile(r'xlink:href="https://vega\.github\.io/vega-datasets/+')
_SVG_OPEN = re.compile(r"<svg\b([^>]*)>")
_CLASS_ATTR = re.compile(r'\sclass="[^"]*"')
_EMPTY = "No figures to chart yet."


@lru_cache(maxsize=128)
def _convert(spec: str) -> str:
    """The SVG of a Vega-Lite spec (JSON). The same figures draw the same picture, so
    the pages every reader sees (the overview, the board report) convert once, not per
    request; 128 charts of at most about 100 KB each."""
    import vl_convert  # imported on first use: it boots a JavaScript runtime

    return str(vl_convert.vegalite_to_svg(json.loads(spec)))


def warm() -> None:
    """Import altair (about a second) and boot the converter (about half a second), once
    a process, before a reader waits for them."""
    import altair  # noqa: F401 - imported for its import time

    _convert(json.dumps({"mark": "point", "data": {"values": [{"x": 1}]},
                         "encoding": {"x": {"field": "x", "type": "quantitative"}}}))


def warm_in_background() -> threading.Thread:
    thread = threading.Thread(target=warm, name="charts-warm", daemon=True)
    thread.start()
    return thread


def _number(value: float | None) -> str:
    """A figure for the table: thousands separated, whole numbers without decimals."""
    if value is None:
        return "–"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _table(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]],
           links: Sequence[str | None] = ()) -> str:
    head = "".join(f'<th scope="col" class="govuk-table__header">{escape(h)}</th>'
                   for h in headers)
    body = []
    for index, row in enumerate(rows):
        link = links[index] if index < len(links) else None
        first = f'<a href="{escape(link)}">{escape(row[0])}</a>' if link else escape(row[0])
        cells = "".join(f'<td class="govuk-table__cell">{escape(c)}</td>' for c in row[1:])
        body.append(f'<tr class="govuk-table__row"><th scope="row" '
                    f'class="govuk-table__header">{first}</th>{cells}</tr>')
    return (f'<details class="govuk-details chart-data"><summary class="govuk-details__summary">'
            f'<span class="govuk-details__summary-text">Show the data as a table</span>'
            f'</summary><div class="govuk-details__text"><table class="govuk-table">'
            f'<caption class="govuk-table__caption">{escape(title)}</caption>'
            f'<thead class="govuk-table__head"><tr class="govuk-table__row">{head}</tr></thead>'
            f'<tbody class="govuk-table__body">{"".join(body)}</tbody></table></div></details>')


def _svg(chart: alt.Chart | alt.LayerChart, title: str, description: str) -> str:
    """The chart as SVG, named and described for screen readers (``role="img"``: its
    marks are one picture; the figures themselves are in the table beside it)."""
    # Not validated against the schema on every request (a third of the time of a small
    # chart): the specs are fixed by this module, and the tests draw each kind.
    spec = chart.configure(**_CONFIG).to_dict(validate=False)
    svg = _VEGA_BASE.sub('tabindex="-1" xlink:href="/', _convert(json.dumps(spec)))
    match = _SVG_OPEN.search(svg)
    if match is None:  # the converter always writes one root element
        raise ValueError("the chart converter returned no SVG")
    attributes = _CLASS_ATTR.sub("", match.group(1))
    opening = (f'<svg{attributes} class="chart-svg" role="img" '
               f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
               f"<desc>{escape(description)}</desc>")
    return svg[:match.start()] + opening + svg[match.end():]


def _figure(svg: str, table: str) -> Markup:
    return Markup(svg + table)  # noqa: S704 - Vega escapes its text; the table is escaped


def _empty() -> Markup:
    return Markup(f'<p class="govuk-body chart-empty">{_EMPTY}</p>')  # noqa: S704 - constant


def _href(link: str | None, label: str) -> str | None:
    return link.format(quote(label, safe="")) if link else None


def _value_axis(unit: str, largest: float) -> dict[str, Any]:
    """Money and rates keep a decimal place; counts are whole, thousands separated, and
    a handful of them ticks at each whole number (no tick at half a handset: Vega's
    ``tickMinStep`` is not honoured by the converter, a tick count is)."""
    if unit:
        return {"format": ",.1~f"}
    if 0 < largest < 8:
        return {"format": ",~r", "tickCount": max(1, int(largest))}
    return {"format": ",~r"}


def _largest(values: Sequence[dict[str, Any]]) -> float:
    return max((float(v["value"]) for v in values), default=0.0)


def bar_chart(title: str, data: Sequence[tuple[str, float]], link: str | None = None,
              height: int = 320, colours: Mapping[str, str] | None = None,
              unit: str = "", table: bool = True) -> Markup:
    """One bar per label; ``colours`` gives a bar its colour by meaning (a label to a
    name in ``MEANING`` or a colour); ``link`` (with ``{}`` for the label) makes each bar
    and each table row a link. ``unit`` heads the table's figure column; ``table=False``
    where the page already shows the same figures as a table beside the chart."""
    import altair as alt  # on first use: a second to import, not at start-up

    if not data:
        return _empty()
    labels = [label for label, _ in data]
    colours = colours or {}
    values = [{"label": label, "value": value,
               "href": _href(link, label),
               "colour": MEANING.get(colours.get(label, "blue"), colours.get(label, "blue"))}
              for label, value in data]
    encoding: dict[str, Any] = {
        "x": alt.X("label:N", sort=labels, title=None,
                   axis=alt.Axis(labelAngle=-30 if len(labels) > 6 else 0, labelLimit=160)),
        "y": alt.Y("value:Q", title=unit or None,
                   axis=alt.Axis(**_value_axis(unit, _largest(values)))),
        "color": alt.Color("colour:N", scale=None, legend=None)}
    if link:
        encoding["href"] = alt.Href("href:N")
    chart = alt.Chart({"values": values}, title=title).mark_bar().encode(
        **encoding).properties(width=WIDTH, height=height - 80)
    description = f"Bar chart: {', '.join(f'{lb} {_number(v)}' for lb, v in data[:12])}" + (
        f" and {len(data) - 12} more." if len(data) > 12 else ".")
    rows = [[label, _number(value)] for label, value in data]
    links = [_href(link, label) for label in labels]
    return _figure(_svg(chart, title, description),
                   _table(title, ["Label", unit or "Figure"], rows, links) if table else "")


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
                     height=height, unit=unit)


def _series_scale(names: Sequence[str], colours: Mapping[str, str] | None) -> alt.Scale:
    import altair as alt  # on first use: a second to import, not at start-up

    colours = colours or {}
    return alt.Scale(domain=list(names), range=[
        MEANING.get(colours[n], colours[n]) if n in colours else SERIES[i % len(SERIES)]
        for i, n in enumerate(names)])


def _date_axis(first: date, last: date) -> dict[str, Any]:
    """Ticks at whole months (every 1, 2, 3, 6 or 12) or years, so that at most
    ``DATE_TICKS`` labels stand along the axis; a run of a few weeks lets Vega choose days.
    Dates are UTC throughout: a week's Monday stays that Monday in any server time zone."""
    months = (last - first).days / 30.44
    if months <= 4:
        return {"format": "%d %b %Y", "tickCount": DATE_TICKS}
    for step in (1, 2, 3, 6, 12):
        if months / step <= DATE_TICKS - 1:
            return {"format": "%b %Y", "tickCount": {"interval": "month", "step": step}}
    years = -(-int(months / 12) // (DATE_TICKS - 1))
    return {"format": "%Y", "tickCount": {"interval": "year", "step": years}}


def line_chart(title: str, days: Sequence[date], series: Mapping[str, Sequence[float | None]],
               height: int = 320, colours: Mapping[str, str] | None = None,
               table: bool = True) -> Markup:
    """Lines over real dates (one point a day given, usually weeks): the axis shows a
    few nice dates however long the run, never every week's label on top of the others.
    ``table=False`` where the page already shows the same figures as a table."""
    import altair as alt  # on first use: a second to import, not at start-up

    if not days or not series:
        return _empty()
    names = list(series)
    values = [{"day": day.isoformat(), "series": name, "value": figure}
              for name, figures in series.items()
              for day, figure in zip(days, figures, strict=False) if figure is not None]
    if not values:
        return _empty()
    chart = alt.Chart({"values": values}, title=title).mark_line(strokeWidth=2.5).encode(
        x=alt.X("day:T", title=None, scale=alt.Scale(type="utc"),
                axis=alt.Axis(**_date_axis(min(days), max(days)), labelOverlap=True,
                              labelSeparation=8, labelFlush=True)),
        y=alt.Y("value:Q", title=None, axis=alt.Axis(**_value_axis("", _largest(values)))),
        color=alt.Color("series:N", sort=names, scale=_series_scale(names, colours),
                        legend=alt.Legend(title=None, symbolType="stroke")),
        strokeDash=alt.StrokeDash("series:N", sort=names, legend=None, scale=alt.Scale(
            domain=names, range=[DASHES[i % len(DASHES)] for i in range(len(names))])),
    ).properties(width=WIDTH, height=height - 110)
    description = (f"Line chart from {days[0]:%d %B %Y} to {days[-1]:%d %B %Y}, "
                   f"{len(days)} points: {', '.join(names)}.")
    rows = [[f"{day:%d %b %Y}", *[_number(f[i] if i < len(f) else None)
                                  for f in series.values()]]
            for i, day in enumerate(days)]
    return _figure(_svg(chart, title, description),
                   _table(title, ["Date", *names], rows) if table else "")


def grouped_bar_chart(title: str, x_labels: Sequence[str],
                      series: Mapping[str, Sequence[float | None]], height: int = 320,
                      y_title: str = "", colours: Mapping[str, str] | None = None,
                      table: bool = True) -> Markup:
    """Several series side by side per label (approved, actual, forecast per year); the
    legend names them in the order they stand, left to right, so it reads without
    colour. ``table=False`` where the page already shows the same figures as a table."""
    import altair as alt  # on first use: a second to import, not at start-up

    if not x_labels or not series:
        return _empty()
    names = list(series)
    values = [{"label": label, "series": name, "value": figure}
              for name, figures in series.items()
              for label, figure in zip(x_labels, figures, strict=False) if figure is not None]
    chart = alt.Chart({"values": values}, title=title).mark_bar().encode(
        x=alt.X("label:N", sort=list(x_labels), title=None,
                axis=alt.Axis(labelAngle=-30 if len(x_labels) > 8 else 0, labelLimit=160)),
        xOffset=alt.XOffset("series:N", sort=names),
        y=alt.Y("value:Q", title=y_title or None,
                axis=alt.Axis(**_value_axis(y_title, _largest(values)))),
        color=alt.Color("series:N", sort=names, scale=_series_scale(names, colours),
                        legend=alt.Legend(title="Bars, left to right:", direction="horizontal",
                                          symbolType="square")),
    ).properties(width=WIDTH, height=height - 100)
    description = (f"Grouped bar chart, {len(x_labels)} groups ({x_labels[0]} to "
                   f"{x_labels[-1]}); in each, left to right: {', '.join(names)}.")
    rows = [[label, *[_number(f[i] if i < len(f) else None) for f in series.values()]]
            for i, label in enumerate(x_labels)]
    headers = [f"{n} ({y_title})" if y_title else n for n in names]
    return _figure(_svg(chart, title, description),
                   _table(title, ["Label", *headers], rows) if table else "")
