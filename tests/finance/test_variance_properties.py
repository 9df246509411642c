"""Invariants of the variance arithmetic, over random orders, invoices and credit notes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mobilise.finance.variance import SpendFact, by_year_and_budget, compute_variance

KEYS = st.tuples(st.sampled_from(["PCD 1322", "OneDrive"]), st.integers(2022, 2026),
                 st.sampled_from(["capital", "revenue"]), st.sampled_from(["delivery",
                                                                           "refresh"]))


@st.composite
def ledgers(draw: st.DrawFn) -> tuple[list[tuple[tuple[str, int, str, str], int]],
                                      list[SpendFact]]:
    envelopes = draw(st.lists(st.tuples(KEYS, st.integers(1, 10**10)), max_size=8))
    orders = [SpendFact(draw(KEYS), "order", f"PO-{n}", draw(st.integers(1, 10**9)))
              for n in range(draw(st.integers(0, 8)))]
    invoices = []
    for n in range(draw(st.integers(0, 20))):
        order = draw(st.sampled_from(orders)).reference if orders and draw(st.booleans()) \
            else None
        amount = draw(st.integers(-10**7, 10**9).filter(lambda a: a != 0))
        invoices.append(SpendFact(draw(KEYS), "invoice", f"INV-{n}", amount, order))
    return envelopes, orders + invoices


@given(ledgers())
def test_variance_invariants(ledger: tuple[list[tuple[tuple[str, int, str, str], int]],
                                           list[SpendFact]]) -> None:
    envelopes, facts = ledger
    lines = compute_variance(envelopes, facts)
    orders = [f for f in facts if f.kind == "order"]
    invoices = [f for f in facts if f.kind == "invoice"]
    for line in lines:
        assert 0 <= line.outstanding <= line.committed
        assert line.forecast == line.actual + line.outstanding >= line.actual
        assert line.variance == line.envelope - line.forecast
    assert sum(x.envelope for x in lines) == sum(a for _, a in envelopes)
    assert sum(x.committed for x in lines) == sum(o.amount for o in orders)
    assert sum(x.actual for x in lines) == sum(i.amount for i in invoices)
    drawn = {o.reference: sum(i.amount for i in invoices if i.order == o.reference)
             for o in orders}
    assert sum(x.outstanding for x in lines) == sum(
        min(max(o.amount - drawn[o.reference], 0), o.amount) for o in orders)
    totals = by_year_and_budget(lines)
    for field in ("envelope", "committed", "actual", "outstanding"):
        assert sum(getattr(x, field) for x in totals) == sum(getattr(x, field) for x in lines)
    assert len({(x.year, x.budget) for x in totals}) == len(totals)


def test_an_order_invoiced_in_full_leaves_nothing_outstanding() -> None:
    key = ("PCD 1322", 2022, "capital", "delivery")
    facts = [SpendFact(key, "order", "PO-1", 1_000), SpendFact(key, "invoice", "I-1", 600, "PO-1"),
             SpendFact(key, "invoice", "I-2", 400, "PO-1")]
    [line] = compute_variance([(key, 5_000)], facts)
    assert (line.committed, line.actual, line.outstanding, line.variance) == (1_000, 1_000, 0,
                                                                              4_000)
    credit = [*facts, SpendFact(key, "invoice", "CN-1", -250, "PO-1")]
    [line] = compute_variance([(key, 5_000)], credit)
    assert (line.actual, line.outstanding, line.forecast) == (750, 250, 1_000)
