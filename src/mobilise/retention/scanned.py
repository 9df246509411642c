"""The estate as the drive scans saw it: each person's latest inventory, shaped for
retention evaluation, and the rule set in force.

A scan's inventory keeps raw path bytes and no person column (one file per drive); the
evaluation wants text paths and a ``person`` on every row. It gets the inventory's
``path_text`` (undecodable bytes shown as ``\\xNN``, which DuckDB can hold); for the few
names that are not UTF-8, :func:`source_paths` maps that text back to the name the local
backend gives the file (``os.fsdecode``), which is what a migration sync sees.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from mobilise.core.actor import Actor
from mobilise.core.errors import InvalidInput, NotFound
from mobilise.core.progress import NullProgress, Progress
from mobilise.core.settings import Settings
from mobilise.drives.estate import inventory_of, latest_scans
from mobilise.people.models import Person
from mobilise.retention import rule_sets
from mobilise.retention.disposal import propose_batch
from mobilise.retention.dry_run import (
    RECORDED_GROUPINGS,
    SCANNED,
    Diff,
    DryRun,
    diff,
    dry_run,
    record,
    record_diff,
)
from mobilise.retention.evaluate import (
    INVENTORY_COLUMNS,
    Estate,
    Explanation,
    connect,
    explain,
)
from mobilise.retention.holds import holds_in_force
from mobilise.retention.models import DisposalBatch, RuleSetStatus, RuleSetVersion
from mobilise.retention.review import REVIEW_DAYS, queue_reviews
from mobilise.storage.base import Backend

_COLUMNS = ["path_text", "name", "extension", "size", "created", "modified", "accessed", "kind",
            "depth"]


@dataclass
class ScannedEstate:
    estate: Estate
    people: list[Person]
    files: int


def active_rule_set(session: Session) -> RuleSetVersion | None:
    """The rule set in force: the most recently activated active version, if any."""
    return session.scalars(
        select(RuleSetVersion).where(RuleSetVersion.status == RuleSetStatus.ACTIVE.value)
        .order_by(RuleSetVersion.activated_at.desc(), RuleSetVersion.id.desc())).first()


def _people_table(people: Sequence[Person]) -> pa.Table:
    return pa.table({
        "person": pa.array([p.number for p in people], pa.string()),
        "org_unit": pa.array([p.org_unit.code if p.org_unit else None for p in people],
                             pa.string()),
        "status": pa.array([p.status for p in people], pa.string()),
        "left_on": pa.array([p.left_on for p in people], pa.date32()),
    })


def source_paths(inventory: str | Path) -> dict[str, str]:
    """``path_text`` → the local backend's name, for the paths where they differ."""
    table = pq.read_table(inventory, columns=["path", "path_text", "utf8"])
    mapping = {}
    for raw, text, utf8 in zip(table.column("path").to_pylist(),
                               table.column("path_text").to_pylist(),
                               table.column("utf8").to_pylist(), strict=True):
        if not utf8 or os.fsdecode(raw) != text:
            mapping[text] = os.fsdecode(raw)
    return mapping


def raw_paths(inventory: str | Path) -> dict[str, bytes]:
    """``path_text`` → the raw bytes, for the paths that are not valid UTF-8 (storage is
    addressed by the bytes; the text only shows them)."""
    table = pq.read_table(inventory, columns=["path", "path_text"])
    # Undecodable bytes show as \xNN, so only paths with a backslash can differ.
    table = table.filter(pc.match_substring(table.column("path_text"), "\\"))
    mapping = {}
    for raw, text in zip(table.column("path").to_pylist(), table.column("path_text").to_pylist(),
                         strict=True):
        try:
            if raw.decode("utf-8") == text:
                continue
        except UnicodeDecodeError:
            pass
        mapping[text] = raw
    return mapping


def _scan_view(con: duckdb.DuckDBPyConnection, name: str,
               inventories: Mapping[str, str | Path]) -> None:
    """View ``name``: the rows of Mobilise's own scan inventories (person → file) shaped
    for evaluation. A scan keeps raw path bytes and no person column; each file's person
    comes from a small table of file names, the text path from ``path_text``."""
    files = [str(f) for f in inventories.values()]
    con.read_parquet(files, filename=True, union_by_name=True).create_view(f"{name}_rows")
    con.register(f"{name}_files", pa.table({
        "filename": pa.array(files, pa.string()),
        "person": pa.array(list(inventories), pa.string()),
    }))
    con.execute(
        f"CREATE VIEW {name} AS SELECT f.person, r.path_text AS path, "
        f"{', '.join('r.' + c for c in _COLUMNS[1:])} "
        f"FROM {name}_rows r JOIN {name}_files f ON f.filename = r.filename"
    )


def scanned_estate(session: Session, person_ids: Sequence[int] | None = None
                   ) -> ScannedEstate | None:
    """The latest complete scan of each person (or of those given); None if nobody has
    been scanned. DuckDB reads the inventories where they lie, all files in one parallel
    scan."""
    scans = [(p, s) for p, s in latest_scans(session, person_ids) if s.inventory]
    if not scans:
        return None
    con = connect()
    _scan_view(con, "inventory", {p.number: inventory_of(s) for p, s in scans})
    people = [p for p, _ in scans]
    con.register("people", _people_table(people))
    counted = con.execute("SELECT count(*) FROM inventory_rows").fetchone()
    return ScannedEstate(Estate.of(con, has_people=True), people,
                         int(counted[0]) if counted else 0)


# --- inventories named on the command line -------------------------------------------------


@dataclass
class OpenedInventory:
    """An estate over inventory files, and the scan inventory read for each person."""

    estate: Estate
    scans: dict[str, Path]

    def raw_paths(self, person: str) -> dict[str, bytes]:
        found = self.scans.get(person)
        return raw_paths(found) if found is not None else {}


def inventory_files(patterns: str | Sequence[str]) -> list[Path]:
    """The Parquet files that ``patterns`` name: files, globs or folders (every inventory
    under it); temporary files of scans under way (dot files) are never read."""
    wanted = [patterns] if isinstance(patterns, str) else list(patterns)
    found: list[Path] = []
    for pattern in wanted:
        path = Path(pattern)
        if path.is_dir():
            matched = sorted(p for p in path.rglob("*.parquet") if not p.name.startswith("."))
        elif path.is_file():
            matched = [path]
        else:
            matched = sorted(Path(p) for p in glob.glob(pattern, recursive=True)
                             if Path(p).is_file())
        if not matched:
            raise InvalidInput(f"no inventory file matches {pattern!r}")
        found += matched
    return list(dict.fromkeys(found))


def scan_person(path: Path, metadata: Mapping[bytes, bytes] | None) -> str:
    """Whose drive a Mobilise scan inventory lists: its ``mobilise.person_key`` metadata,
    else the folder it was written to (``drives.scan.inventory_folder``)."""
    key = (metadata or {}).get(b"mobilise.person_key")
    return key.decode() if key else path.parent.name


def open_inventory(session: Session | None, patterns: str | Sequence[str],
                   people: str | Path | None = None) -> OpenedInventory:
    """An estate over the inventory files ``patterns`` names, the one way every retention
    command reads them: Mobilise's own scan inventories (no ``person`` column: the person
    is the scan's, the latest scan of each person is read) and inventories that carry a
    ``person`` column, in any mix. Person attributes come from ``people`` (Parquet) or,
    for scanned drives, from the people register."""
    scans: dict[str, Path] = {}
    plain: list[Path] = []
    for path in inventory_files(patterns):
        schema = pq.read_schema(path)
        if "person" not in schema.names and "path_text" in schema.names:
            key = scan_person(path, schema.metadata)
            # Scan files are named by scan id, which sorts by time: keep the latest.
            if key not in scans or path.name > scans[key].name:
                scans[key] = path
        else:
            plain.append(path)
    con = connect()
    if plain and not scans:
        con.read_parquet([str(p) for p in plain], union_by_name=True).create_view("inventory")
    else:
        parts = []
        if scans:
            _scan_view(con, "scan_inventory", scans)
            parts.append("SELECT * FROM scan_inventory")
        if plain:
            con.read_parquet([str(p) for p in plain], union_by_name=True).create_view(
                "plain_inventory")
            columns = ", ".join(INVENTORY_COLUMNS)
            parts.append(f"SELECT {columns} FROM plain_inventory")
        con.execute("CREATE VIEW inventory AS " + " UNION ALL BY NAME ".join(parts))
    has_people = people is not None
    if people is not None:
        con.read_parquet(str(people)).create_view("people")
    elif scans and session is not None:
        known = list(session.scalars(select(Person).where(Person.number.in_(list(scans)))
                                     .options(joinedload(Person.org_unit))
                                     .order_by(Person.number)))
        con.register("people", _people_table(known))
        has_people = True
    return OpenedInventory(Estate.of(con, has_people=has_people), scans)


def scanned_dry_run(session: Session, version: RuleSetVersion, as_of: date
                    ) -> DryRun | None:
    """What ``version`` would do to every scanned drive (None: no drive scanned yet)."""
    scanned = scanned_estate(session)
    if scanned is None:
        return None
    return dry_run(scanned.estate, rule_sets.parsed(version), as_of, holds_in_force(session))


def record_scanned_dry_run(session: Session, actor: Actor, version: RuleSetVersion,
                           as_of: date, progress: Progress | None = None) -> DryRun | None:
    """Dry-run ``version`` over every scanned drive and record the outcome (the audit
    log keeps it for the dry-run page and the overview); None: no drive scanned yet.
    Reports its three steps (read the inventories, evaluate, record) to ``progress``."""
    progress = progress or NullProgress()
    progress.start(3, f"dry run of {version.name} v{version.version}")
    scanned = scanned_estate(session)
    if scanned is None:
        return None
    progress.advance(1, drives=len(scanned.people))
    result = dry_run(scanned.estate, rule_sets.parsed(version), as_of, holds_in_force(session),
                     groupings=RECORDED_GROUPINGS)
    progress.advance(1, files=result.files)
    record(session, actor, result, estate=SCANNED)
    progress.advance(1)
    return result


def scanned_diff(session: Session, old: RuleSetVersion, new: RuleSetVersion, as_of: date
                 ) -> Diff | None:
    scanned = scanned_estate(session)
    if scanned is None:
        return None
    return diff(scanned.estate, rule_sets.parsed(old), rule_sets.parsed(new), as_of,
                holds_in_force(session))


def record_scanned_diff(session: Session, actor: Actor, old: RuleSetVersion,
                        new: RuleSetVersion, as_of: date,
                        progress: Progress | None = None) -> Diff | None:
    """Compare two versions over every scanned drive and record the comparison; None:
    no drive scanned yet. Reports its three steps to ``progress``."""
    progress = progress or NullProgress()
    progress.start(3, f"compare {old.name} v{old.version} with {new.name} v{new.version}")
    scanned = scanned_estate(session)
    if scanned is None:
        return None
    progress.advance(1, drives=len(scanned.people))
    result = diff(scanned.estate, rule_sets.parsed(old), rule_sets.parsed(new), as_of,
                  holds_in_force(session))
    progress.advance(1, changed_files=result.changed_files)
    record_diff(session, actor, result, (old.name, old.version, old.content_hash),
                (new.name, new.version, new.content_hash))
    progress.advance(1)
    return result


def scanned_explain(session: Session, version: RuleSetVersion, person: str, path: str,
                    as_of: date) -> Explanation:
    """The rule that decides one file of a scanned drive, and each rule it beat and why
    (the person's latest scan: a rule on duplicates needs their whole drive)."""
    found = session.scalar(select(Person).where(Person.number == person))
    if found is None:
        raise NotFound(f"no person {person}")
    scanned = scanned_estate(session, [found.id])
    if scanned is None:
        raise NotFound(f"the drive of {found.number} has not been scanned")
    return explain(scanned.estate, rule_sets.parsed(version), found.number, path, as_of,
                   holds_in_force(session))


def drive_of(session: Session, settings: Settings) -> Callable[[str], Backend]:
    """A person's H: drive (by number) as this machine reaches it, the way a migration
    round reaches it: disposal deletes from, and re-checks against, the same source."""
    from mobilise.migration.rounds import source_spec
    from mobilise.migration.tasks import backend_from_spec

    def drive(number: str) -> Backend:
        person = session.scalar(select(Person).where(Person.number == number))
        if person is None:
            raise NotFound(f"no person {number}")
        backend = backend_from_spec(settings, source_spec(settings, person))
        assert backend is not None
        return backend

    return drive


def _estate_of(session: Session, people: Sequence[str] | None, what: str) -> ScannedEstate:
    """The scanned drives of everyone, or of ``people`` (numbers: a wave's, say)."""
    ids = None
    if people is not None:
        ids = list(session.scalars(select(Person.id).where(Person.number.in_(people))))
    scanned = scanned_estate(session, ids) if ids is None or ids else None
    if scanned is None:
        whose = "of these people " if people is not None else ""
        raise InvalidInput(f"no drive {whose}has been scanned: nothing to {what}")
    return scanned


def propose_scanned(session: Session, actor: Actor, settings: Settings,
                    version: RuleSetVersion, as_of: date, *, rule: str | None = None,
                    person: str | None = None,
                    people: Sequence[str] | None = None) -> DisposalBatch:
    """Propose a disposal batch of what is due across the scanned drives (or those of
    ``people``)."""
    scanned = _estate_of(session, people, "propose")
    inventories = {p.number: inventory_of(s) for p, s in latest_scans(session) if s.inventory}

    def raw(number: str) -> dict[str, bytes]:
        return raw_paths(inventories[number]) if number in inventories else {}

    return propose_batch(session, actor, version, scanned.estate,
                         drive_of(session, settings), as_of, person=person, rule=rule,
                         raw_paths=raw, people=people)


def queue_scanned(session: Session, actor: Actor, version: RuleSetVersion, as_of: date, *,
                  rule: str | None = None, person: str | None = None,
                  people: Sequence[str] | None = None, review_days: int = REVIEW_DAYS,
                  cutovers: Mapping[str, date] | None = None) -> int:
    """Queue a review item for each file of the scanned drives (or those of ``people``)
    that ``version`` sends to review and is due (held files wait), each with its
    deadline; returns how many were queued."""
    scanned = _estate_of(session, people, "review")
    return queue_reviews(session, actor, version, scanned.estate, as_of,
                         holds_in_force(session), person=person, rule=rule,
                         review_days=review_days, cutovers=cutovers)
