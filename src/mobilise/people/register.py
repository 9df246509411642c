"""Finding people in the register: search, filters, paging; one person by number or UPN."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, func, literal_column, or_, select, table
from sqlalchemy import text as text_sql
from sqlalchemy.orm import Session, aliased, joinedload, selectinload

from mobilise.core.actor import Actor, Role
from mobilise.core.errors import NotFound
from mobilise.core.limits import refuse_control_characters
from mobilise.people.models import OrgUnit, Person, Site


@dataclass(frozen=True)
class PeopleQuery:
    q: str | None = None
    org_unit: str | None = None
    site: str | None = None
    status: str | None = None
    kind: str | None = None
    eligible: bool | None = None
    limit: int = 50
    offset: int = 0


def _search(text: str, dialect: str, indexed: bool = False) -> ColumnElement[bool]:
    text = text.strip()
    if indexed and len(text) >= 3:
        return _indexed_search(text)
    # % and _ in what was typed are characters to find, not wildcards.
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    like = f"%{escaped}%"
    sqlite = dialect == "sqlite"

    def contains(column: Any) -> ColumnElement[bool]:
        # SQLite's LIKE ignores case already (as far as lower() would: ASCII), so no
        # lower() per row there; PostgreSQL's ILIKE does the same in one operator.
        found: ColumnElement[bool] = (column.like(like, escape="\\") if sqlite
                                      else column.ilike(like, escape="\\"))
        return found

    if text.isdigit():
        return contains(Person.number)
    # "first last" contains every match of the first or the last name alone: three tests
    # a row instead of five.
    # The space is a literal, not a parameter: the expression must read exactly as the
    # trigram index's on PostgreSQL (migration people_0001) for the planner to use it.
    full_name = Person.first_name.concat(literal_column("' '")).concat(Person.last_name)
    return or_(contains(full_name), contains(Person.upn), contains(Person.number))


def _indexed_search(text: str) -> ColumnElement[bool]:
    """The same test through SQLite's trigram full-text table (migration people_0002): a
    quoted phrase matches wherever its characters appear in a row, ignoring case."""
    phrase = '"' + text.replace('"', '""') + '"'
    match = f"number : {phrase}" if text.isdigit() else phrase
    rows: Select[Any] = (select(literal_column("rowid")).select_from(table("person_search"))
            .where(literal_column("person_search").op("MATCH")(match)))
    return Person.id.in_(rows)


def _search_table(session: Session) -> bool:
    """Whether this database has the trigram search table (SQLite with FTS5, 3.34+)."""
    if session.get_bind().dialect.name != "sqlite":
        return False
    return session.scalar(text_sql(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'person_search'")
    ) is not None


def _filtered(query: PeopleQuery, dialect: str = "", indexed: bool = False
              ) -> Select[Person]:
    stmt = select(Person)
    if query.q:
        stmt = stmt.where(_search(query.q, dialect, indexed))
    if query.org_unit:
        stmt = stmt.join(OrgUnit, Person.org_unit_id == OrgUnit.id).where(
            OrgUnit.code == query.org_unit)
    if query.site:
        stmt = stmt.join(Site, Person.site_id == Site.id).where(Site.code == query.site)
    if query.status:
        stmt = stmt.where(Person.status == query.status)
    if query.kind:
        stmt = stmt.where(Person.kind == query.kind)
    if query.eligible is not None:
        stmt = stmt.where(Person.eligible == query.eligible)
    return stmt


NAME_ORDER = (Person.last_name, Person.first_name, Person.number)  # ix_person_name_order


def find_people(session: Session, query: PeopleQuery) -> tuple[list[Person], int]:
    for what in ("q", "org_unit", "site"):
        text = getattr(query, what)
        if text:
            refuse_control_characters(text, f"the search {what}")
    stmt = _filtered(query, session.get_bind().dialect.name,
                     bool(query.q) and _search_table(session))
    if query.q:
        # A search reads every match anyway: count them in the same pass. The matches
        # are a subquery behind OFFSET 0, a fence PostgreSQL does not plan through: else
        # it may walk the name-order index for the page and filter all 45,000 rows
        # (60 ms, where the trigram indexes find a surname's matches in 2 ms).
        found = aliased(Person, stmt.offset(0).subquery("matches"))
        # Places by selectin (two queries for the page): the loaded units hang off each
        # person, where an unreferenced load would be dropped by the weak identity map
        # and every row would then fetch its own.
        rows = session.execute(
            select(found, func.count().over().label("total"))
            .options(selectinload(found.org_unit), selectinload(found.site))
            .order_by(found.last_name, found.first_name, found.number)
            .limit(query.limit).offset(query.offset)).all()
        if rows:
            return [row[0] for row in rows], int(rows[0][1])
        if query.offset == 0:
            return [], 0  # nothing matches: no second pass to count nothing
    # A listing walks the name-order index for its page and counts separately.
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    page = session.scalars(
        stmt.options(joinedload(Person.org_unit), joinedload(Person.site))
        .order_by(*NAME_ORDER).limit(query.limit).offset(query.offset)
    ).all()
    return list(page), total


def get_person(session: Session, key: str | int) -> Person:
    """A person by id, warrant/staff number or UPN."""
    text = refuse_control_characters(str(key).strip(), "a person's number or UPN")
    person = session.scalar(
        select(Person).options(joinedload(Person.org_unit), joinedload(Person.site))
        .where(or_(Person.number == text, Person.upn == text.lower()))
    )
    if person is None and text.isascii() and text.isdigit() and len(text) < 19:
        person = session.get(Person, int(text))
    if person is None:
        raise NotFound(f"no person {text!r}")
    return person


def person_row(person: Person) -> dict[str, Any]:
    return {
        "id": person.id, "number": person.number, "name": person.display_name,
        "first_name": person.first_name, "last_name": person.last_name, "kind": person.kind,
        "rank": person.rank, "upn": person.upn, "email": person.email,
        "org_unit": person.org_unit.code if person.org_unit else None,
        "site": person.site.code if person.site else None, "status": person.status,
        "left_on": person.left_on, "eligible": person.eligible,
        "eligibility_reason": person.eligibility_reason, "adjustments": person.adjustments,
        "sam_account_name": person.sam_account_name, "home_directory": person.home_directory,
        "line_manager": person.line_manager,
    }


# Fields only some roles may read (docs/security.md, "Special-category data"). Reasonable
# adjustments are health data (UK GDPR art. 9): the rollout's planners and the service
# desk act on them. A home directory's path locates a person's files: migration and
# records work with it. Admin reads everything.
RESTRICTED_FIELDS: dict[str, frozenset[Role]] = {
    "adjustments": frozenset({Role.PROGRAMME, Role.SERVICE_DESK}),
    "home_directory": frozenset({Role.MIGRATION, Role.RECORDS}),
}


def person_row_for(person: Person, actor: Actor) -> dict[str, Any]:
    """``person_row`` without the fields ``actor``'s roles may not read (left out, not
    blanked: an empty field would read as "none")."""
    row = person_row(person)
    for key, roles in RESTRICTED_FIELDS.items():
        if not actor.has_any(roles):
            del row[key]
    return row


PERSON_COLUMNS = ["number", "name", "kind", "rank", "org_unit", "site", "status", "upn",
                  "eligible"]
