"""Charts people can read: colours by meaning, units that scale."""

from __future__ import annotations

from mobilise.web.charts import MEANING, bar_chart, bytes_chart, size_unit


def test_a_red_risk_is_drawn_red_and_an_amber_one_amber() -> None:
    svg = str(bar_chart("Risks by level", [("red", 2), ("amber", 1)],
                        colours={"red": "red", "amber": "amber"}))
    assert MEANING["red"] in svg and MEANING["amber"] in svg
    plain = str(bar_chart("Risks by level", [("red", 2), ("amber", 1)]))
    assert MEANING["red"] not in plain  # without meanings, the series colour


def test_sizes_take_the_unit_their_largest_needs() -> None:
    assert size_unit(167 * 10**9) == ("GB", 10**9)
    assert size_unit(2.5 * 10**12) == ("TB", 10**12)
    assert size_unit(10) == ("B", 1)
    svg = str(bytes_chart("Data copied by wave", [("W1", 167 * 10**9), ("W2", 12 * 10**9)]))
    assert "Data copied by wave (GB)" in svg and "167" in svg
