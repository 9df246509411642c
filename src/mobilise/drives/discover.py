"""Which home directory is whose.

Three sources, tried in this order for each person: an SPMT-style user-mapping file
(source path, login or SID → target UPN), the roster's home-directory column, and a path
template such as ``/mnt/isilon/home/{sam}``. The answer is checked against a listing of
the directories that actually exist under the home roots, which also yields the orphans:
drives nobody in the register owns (leavers' drives, usually).

Everything here is a pure function over plain inputs; the caller lists the roots.
"""

from __future__ import annotations

import ntpath
import os
import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from mobilise.core.errors import FileProblem, ImportRejected, InvalidInput
from mobilise.core.importer import records

_SID = re.compile(r"^S-1-\d+(-\d+)+$", re.IGNORECASE)
_UPN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TEMPLATE_FIELDS = {"sam", "number", "upn", "upn_user"}


class MatchSource(StrEnum):
    MAPPING = "mapping"
    ROSTER = "roster"
    TEMPLATE = "template"


@dataclass(frozen=True)
class PersonHome:
    """What discovery needs to know about one person."""

    person_key: str
    upn: str
    sam_account_name: str | None = None
    home_directory: str | None = None
    sid: str | None = None
    leaver: bool = False


@dataclass(frozen=True)
class UserMapping:
    """One line of an SPMT user-mapping file: source, target UPN, is it a group."""

    source: str
    target_upn: str
    is_group: bool = False
    line: int = 0

    @property
    def source_is_sid(self) -> bool:
        return bool(_SID.match(self.source))

    @property
    def source_is_path(self) -> bool:
        return self.source.startswith(("\\\\", "/"))


@dataclass(frozen=True)
class DriveMatch:
    person_key: str
    upn: str
    home: str
    source: MatchSource
    leaver: bool = False


@dataclass(frozen=True)
class MissingDrive:
    person_key: str
    upn: str
    reason: str


@dataclass(frozen=True)
class RefusedDrive:
    """A match whose folder is not inside the home root (``drives.roots``)."""

    match: DriveMatch
    reason: str


@dataclass
class Discovery:
    matched: list[DriveMatch] = field(default_factory=list)
    without_drive: list[MissingDrive] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    refused: list[RefusedDrive] = field(default_factory=list)


def read_user_mapping(path: Path) -> list[UserMapping]:
    """Read an SPMT user-mapping CSV (no header: source, target UPN[, is-group]).
    Every problem is reported with its line; any problem rejects the whole file."""
    problems: list[FileProblem] = []
    rows: list[UserMapping] = []
    name = str(path)
    for line, cells in records(path):
        cells = [c.strip() for c in cells]
        if not any(cells):
            continue
        if len(cells) < 2 or not cells[0]:
            problems.append(FileProblem(name, line, 1, "expected: source, target UPN"))
            continue
        upn = cells[1]
        if not _UPN.match(upn):
            problems.append(FileProblem(name, line, 2, f"{upn!r} is not a UPN"))
            continue
        group = len(cells) > 2 and cells[2].lower() in {"true", "1", "yes"}
        rows.append(UserMapping(cells[0], upn.lower(), group, line))
    if problems:
        raise ImportRejected(problems)
    return rows


def translate_path(path: str, unc_roots: Sequence[tuple[str, str]] = ()) -> str:
    """A roster path as this machine sees it: ``\\\\isilon\\home$\\jsmith`` becomes
    ``/mnt/isilon/home/jsmith`` given the pair (``\\\\isilon\\home$``, ``/mnt/isilon/home``).
    """
    text = path.strip()
    for unc, mount in unc_roots:
        prefix = unc.rstrip("\\/")
        if text.lower().startswith(prefix.lower()) and (
            len(text) == len(prefix) or text[len(prefix)] in "\\/"
        ):
            rest = text[len(prefix):].replace("\\", "/").strip("/")
            if mount.startswith("\\\\"):  # reached over SMB: stay a UNC path
                return mount.rstrip("\\") + ("\\" + rest.replace("/", "\\") if rest else "")
            return posixpath.join(mount, rest) if rest else mount
    if text.startswith("\\\\"):
        return ntpath.normpath(text)
    return posixpath.normpath(text)


def expand_template(template: str, person: PersonHome) -> str | None:
    """The template filled in for a person, or None when a field it needs is missing."""
    fields = {
        "sam": person.sam_account_name,
        "number": person.person_key,
        "upn": person.upn,
        "upn_user": person.upn.split("@", 1)[0],
    }
    wanted = set(re.findall(r"{(\w+)}", template))
    unknown = wanted - _TEMPLATE_FIELDS
    if unknown:
        raise InvalidInput(f"home template {template!r}: unknown field(s) {sorted(unknown)}; "
                           f"use {sorted(_TEMPLATE_FIELDS)}")
    if any(not fields[w] for w in wanted):
        return None
    return template.format(**{k: v or "" for k, v in fields.items()})


def _key(path: str) -> str:
    # Home shares are SMB shares: names compare without regard to case.
    return path.rstrip("/\\").lower()


def discover_drives(
    people: Iterable[PersonHome],
    existing_homes: Iterable[str],
    *,
    template: str | None = None,
    mapping: Sequence[UserMapping] = (),
    unc_roots: Sequence[tuple[str, str]] = (),
) -> Discovery:
    """Match people to the home directories that exist; report the rest both ways."""
    existing = {_key(p): p for p in existing_homes}
    by_upn = {m.target_upn: m for m in mapping if not m.is_group}
    claimed: set[str] = set()
    found = Discovery()
    for person in people:
        candidates = _candidates(person, by_upn, template, unc_roots)
        hit = next(((p, s) for p, s in candidates if _key(p) in existing), None)
        if hit is None:
            tried = ", ".join(p for p, _ in candidates) or "no home directory, template or mapping"
            found.without_drive.append(MissingDrive(person.person_key, person.upn,
                                                    f"not found: {tried}"))
            continue
        home = existing[_key(hit[0])]
        claimed.add(_key(home))
        found.matched.append(DriveMatch(person.person_key, person.upn, home, hit[1],
                                        person.leaver))
    found.orphans = sorted(p for k, p in existing.items() if k not in claimed)
    return found


def _candidates(person: PersonHome, by_upn: dict[str, UserMapping], template: str | None,
                unc_roots: Sequence[tuple[str, str]]) -> list[tuple[str, MatchSource]]:
    out: list[tuple[str, MatchSource]] = []
    entry = by_upn.get(person.upn.lower())
    if entry is not None and entry.source_is_path:
        out.append((translate_path(entry.source, unc_roots), MatchSource.MAPPING))
    elif entry is not None and template:
        # The mapping names the login or SID; the template turns the login into a path.
        login = entry.source.split("\\")[-1]
        if not entry.source_is_sid:
            filled = expand_template(template, PersonHome(person.person_key, person.upn, login))
            if filled:
                out.append((filled, MatchSource.MAPPING))
    if person.home_directory:
        out.append((translate_path(person.home_directory, unc_roots), MatchSource.ROSTER))
    if template:
        filled = expand_template(template, person)
        if filled:
            out.append((filled, MatchSource.TEMPLATE))
    return out


def list_homes(*roots: Path) -> list[str]:
    """The directories directly under each home root (what a share's top level holds)."""
    homes: list[str] = []
    for root in roots:
        with os.scandir(root) as entries:
            homes.extend(e.path for e in entries if e.is_dir(follow_symlinks=False))
    return sorted(homes)
