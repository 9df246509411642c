"""Shared parameter types for routes: a database id is a positive 63-bit integer, so a
larger number is a 422, never an overflow inside the database driver. And the one check
of every request's query string and path (``plain_request``, on the whole app): a control
character such as a NUL is a 422 before any route sees it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Path, Query, Request
from markupsafe import Markup
from pydantic import Field

from mobilise.core.limits import column_length, refuse_control_characters

MAX_ID = 2**63 - 1

RecordId = Annotated[int, Path(ge=1, le=MAX_ID, description="a record's id")]


def plain_request(request: Request) -> None:
    """Refuse a query string or path with a control character (``q=Ow%00en``)."""
    refuse_control_characters(request.url.path, "the path")
    for name, value in request.query_params.multi_items():
        refuse_control_characters(name, "a query parameter's name")
        refuse_control_characters(value, f"query parameter {name!r}")


def column_field(attribute: Any, default: Any = ..., **options: Any) -> Any:
    """A body field no longer than the column it is stored in (``Hold.reference``): the
    limit read from the schema, never copied by hand."""
    return Field(default, max_length=column_length(attribute), **options)


# --------------------------------------------------------------------------- paging

PageNo = Query(1, alias="page", ge=1, le=1_000_000, description="page number, from 1")


@dataclass(frozen=True)
class Pager:
    """One page of a long list: which rows to read (``offset``, ``size``), and the links
    to the other pages keeping the list's filters (``keep``). Every paged page uses this
    and ``templates/pager.html``, so they all page, word and link alike."""

    page: int
    size: int
    total: int
    keep: tuple[tuple[str, str], ...] = ()  # the filters each link carries, in order

    @classmethod
    def of(cls, page: int, size: int, total: int, **keep: object) -> Pager:
        return cls(page, size, total, tuple((k, "" if v is None else str(v))
                                            for k, v in keep.items()))

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def first(self) -> int:
        """The 1-based number of the first row shown (0 when none is)."""
        return min(self.offset + 1, self.total)

    @property
    def last(self) -> int:
        return min(self.offset + self.size, self.total)

    @property
    def showing(self) -> str:
        if self.total == 0:
            return "Nothing to show"
        if self.offset >= self.total:
            return f"Page {self.page:,} is past the end: {self.total:,} in all"
        return f"Showing {self.first:,}–{self.last:,} of {self.total:,}"

    def href(self, page: int) -> Markup:
        # urlencode leaves no character that needs escaping in an attribute but "&",
        # which HTML reads as it is there: marked safe so that links read as typed.
        return Markup("?" + urlencode([*self.keep, ("page", str(page))]))  # noqa: S704

    def numbers(self, around: int = 2) -> list[int | None]:
        """The page numbers to link: the first, the last and those ``around`` the current
        one; ``None`` where some are left out."""
        wanted = {1, self.pages} | set(range(max(1, self.page - around),
                                             min(self.pages, self.page + around) + 1))
        out: list[int | None] = []
        for number in sorted(wanted):
            if out and out[-1] is not None and number - out[-1] > 1:
                out.append(None)
            out.append(number)
        return out
