"""Proposed names for everything OneDrive would refuse, and reasons for what cannot move.

A proposed name is deterministic (the same folder always gets the same answer), valid
under every OneDrive name rule, and unique in its folder under OneDrive's comparison:
case-insensitive, and (cautiously) blind to Unicode normalisation, so the key is
``NFC(name).lower()``. Names that already pass keep their name; when two of them collide,
the first in byte order keeps it. Renamed names then take their place in byte order,
getting `` (2)``, `` (3)``... before the extension where needed.

The mapping table is Parquet, ``<data_dir>/remediation/<person-key>/<scan-id>.parquet``,
written under a temporary name and renamed when complete, like the inventory.
"""

from __future__ import annotations

import codecs
import os
import unicodedata
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from mobilise.drives.assess import (
    BLOCKED_NAMES,
    DEVICE_NAMES,
    INVALID_CHARACTERS,
    MAX_SEGMENT,
    Action,
    Assessment,
    FindingKind,
)

REMEDIATION_DIR = "remediation"
REPLACEMENT = "_"
_INVALID = frozenset(INVALID_CHARACTERS)
_DEVICES = frozenset(DEVICE_NAMES)
_BLOCKED = frozenset(BLOCKED_NAMES)
_MAX_EXTENSION = 16  # longer "extensions" are just part of the name when truncating


def _cp1252_fallback(error: UnicodeError) -> tuple[str, int]:
    """Decode bytes that are not UTF-8 as Windows-1252, the usual legacy encoding on
    shares written from Windows; bytes undefined there become ``_``."""
    assert isinstance(error, UnicodeDecodeError)
    bad = error.object[error.start:error.end]
    return bad.decode("cp1252", errors="replace").replace("\ufffd", REPLACEMENT), error.end


codecs.register_error("mobilise-cp1252", _cp1252_fallback)


def decode_name(raw: bytes) -> str:
    return raw.decode("utf-8", errors="mobilise-cp1252")


def name_key(name: str) -> str:
    """How OneDrive compares two names in a folder (cautiously)."""
    return unicodedata.normalize("NFC", name).lower()


def name_problems(name: str, *, is_folder: bool, at_root: bool) -> set[FindingKind]:
    """The per-name OneDrive rules, in Python (the SQL in ``assess`` is the same rules
    over whole inventories; this checks single names, such as proposed ones)."""
    k = FindingKind
    found: set[FindingKind] = set()
    lower = name.lower()
    if not name or any(c in _INVALID for c in name):
        found.add(k.INVALID_CHARACTERS)
    if lower in _BLOCKED or lower.split(".", 1)[0] in _DEVICES:
        found.add(k.BLOCKED_NAME)
    if name.startswith(" ") or name.endswith(" "):
        found.add(k.LEADING_OR_TRAILING_SPACE)
    if name.endswith("."):
        found.add(k.TRAILING_PERIOD)
    if name.startswith("~$"):
        found.add(k.OFFICE_OWNER_FILE)
    if "_vti_" in lower:
        found.add(k.VTI_IN_NAME)
    if is_folder and lower == "forms":
        # Real SharePoint libraries refuse a folder called forms below the top too.
        found.add(k.FORMS_AT_ROOT)
    if is_folder and name.startswith("~"):
        found.add(k.TILDE_FOLDER)
    if len(name) > MAX_SEGMENT:
        found.add(k.NAME_TOO_LONG)
    return found


def sanitise(name: str, *, is_folder: bool, at_root: bool) -> str:
    """A name OneDrive accepts, as close to ``name`` as the rules allow."""
    text = unicodedata.normalize("NFC", name)
    text = "".join(REPLACEMENT if c in _INVALID else c for c in text)
    for _ in range(8):  # each step can expose another (a trailing space under a period)
        before = text
        text = text.strip(" ").rstrip(".")
        if text.startswith("~") and (is_folder or text.startswith("~$")):
            text = REPLACEMENT + text[1:]
        text = _defuse_vti(text)
        lower = text.lower()
        if lower in _BLOCKED or lower.split(".", 1)[0] in _DEVICES:
            text = REPLACEMENT + text
        if is_folder and text.lower() == "forms":
            text += REPLACEMENT
        if not text:
            text = REPLACEMENT
        text = _truncate(text, MAX_SEGMENT, is_folder)
        if text == before:
            break
    return text


def _defuse_vti(text: str) -> str:
    while (at := text.lower().find("_vti_")) >= 0:
        text = text[:at] + "-" + text[at + 1:at + 4] + "-" + text[at + 5:]
    return text


def _split_extension(name: str, is_folder: bool) -> tuple[str, str]:
    if is_folder:
        return name, ""
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or len(ext) > _MAX_EXTENSION:
        return name, ""
    return stem, "." + ext


def _truncate(name: str, limit: int, is_folder: bool = False) -> str:
    if len(name) <= limit:
        return name
    stem, ext = _split_extension(name, is_folder)
    stem = stem[: max(1, limit - len(ext))].rstrip(" .") or REPLACEMENT
    return (stem + ext)[:limit]


@dataclass(frozen=True)
class Sibling:
    """One entry of a folder, as remediation needs it."""

    raw_name: bytes
    is_folder: bool


def remediate_folder(siblings: Sequence[Sibling], *, at_root: bool) -> dict[bytes, str]:
    """Proposed names for the siblings that must be renamed (keyed by raw name). The
    others keep their names; together they are unique under ``name_key``."""
    ordered = sorted(siblings, key=lambda s: s.raw_name)
    taken: set[str] = set()
    renames: list[tuple[Sibling, str]] = []
    for sibling in ordered:
        text = _valid_text(sibling.raw_name)
        if text is not None and not name_problems(text, is_folder=sibling.is_folder,
                                                  at_root=at_root):
            key = name_key(text)
            if key not in taken:
                taken.add(key)
                continue
            renames.append((sibling, text))
        else:
            name = decode_name(sibling.raw_name)
            renames.append((sibling, sanitise(name, is_folder=sibling.is_folder,
                                              at_root=at_root)))
    proposed: dict[bytes, str] = {}
    for sibling, candidate in renames:
        name = _free_name(candidate, sibling.is_folder, at_root, taken)
        taken.add(name_key(name))
        proposed[sibling.raw_name] = name
    return proposed


def _valid_text(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _free_name(candidate: str, is_folder: bool, at_root: bool, taken: set[str]) -> str:
    if name_key(candidate) not in taken:
        return candidate
    stem, ext = _split_extension(candidate, is_folder)
    number = 2
    while True:
        suffix = f" ({number}){ext}"
        name = stem[: MAX_SEGMENT - len(suffix)].rstrip(" .") + suffix
        # Trimming can leave a stem that is itself a problem (empty, ~$): fix and retry.
        name = sanitise(name, is_folder=is_folder, at_root=at_root)
        if name_key(name) not in taken:
            return name
        number += 1


# --- the mapping table ---------------------------------------------------------------

MAPPING_SCHEMA = pa.schema([
    pa.field("person_key", pa.string(), nullable=False),
    pa.field("id", pa.int64(), nullable=False),
    pa.field("path", pa.binary(), nullable=False),
    pa.field("path_text", pa.string(), nullable=False),
    pa.field("action", pa.string(), nullable=False),  # rename | cannot_move | warning
    pa.field("proposed_name", pa.string()),
    pa.field("findings", pa.list_(pa.string()), nullable=False),
    pa.field("reason", pa.string(), nullable=False),
])


@dataclass(frozen=True)
class MappingRow:
    person_key: str
    id: int
    path: bytes
    path_text: str
    action: Action
    proposed_name: str | None
    findings: tuple[str, ...]
    reason: str


def plan_remediation(assessment: Assessment, inventories: dict[str, Path],
                     target_folder: str | None = None) -> list[MappingRow]:
    """One mapping row per entry with findings: its proposed name or why it cannot move.

    Every sibling of a renamed entry is read back from the inventory, so proposals are
    unique against the names that stay as they are.
    """
    target = assessment.target_folder if target_folder is None else target_folder
    columns = assessment.findings.select(
        ["person_key", "id", "parent_id", "path", "path_text", "finding"]).to_pydict()
    entries: dict[tuple[str, int], _Entry] = {}
    for person, entry_id, parent, path, text, finding in zip(
        columns["person_key"], columns["id"], columns["parent_id"], columns["path"],
        columns["path_text"], columns["finding"], strict=True,
    ):
        entry = entries.setdefault((person, entry_id), _Entry(parent, path, text, set()))
        entry.kinds.add(FindingKind(finding))
    folders = {
        (person, entry.parent_id) for (person, _), entry in entries.items()
        if any(k.action is Action.RENAME for k in entry.kinds)
    }
    proposals = _proposals(folders, inventories, at_root_allowed=not target.strip("/"))
    rows: list[MappingRow] = []
    for (person, entry_id), entry in sorted(entries.items()):
        kinds = sorted(entry.kinds)
        action = _action_of(kinds)
        proposed = proposals.get((person, entry_id)) if action is Action.RENAME else None
        reason = "; ".join(k.explanation for k in kinds)
        if action is Action.RENAME and proposed is None:
            # The first of colliding names keeps its name; the others are renamed.
            action, reason = Action.WARNING, "keeps its name; " + reason
        rows.append(MappingRow(person, entry_id, entry.path, entry.path_text, action,
                               proposed, tuple(k.value for k in kinds), reason))
    rows.sort(key=lambda r: (r.person_key, r.path))
    return rows


@dataclass
class _Entry:
    parent_id: int
    path: bytes
    path_text: str
    kinds: set[FindingKind]


def _action_of(kinds: Iterable[FindingKind]) -> Action:
    actions = {k.action for k in kinds}
    for action in (Action.CANNOT_MOVE, Action.RENAME):
        if action in actions:
            return action
    return Action.WARNING


def _proposals(folders: set[tuple[str, int]], inventories: dict[str, Path],
               at_root_allowed: bool) -> dict[tuple[str, int], str]:
    """Read the siblings of every folder holding a rename and remediate each folder."""
    out: dict[tuple[str, int], str] = {}
    by_person: dict[str, list[int]] = defaultdict(list)
    for person, parent in folders:
        by_person[person].append(parent)
    con = duckdb.connect()
    try:
        for person, parents in by_person.items():
            con.register("wanted", pa.table({"parent_id": pa.array(parents, pa.int64())}))
            rows = con.sql(
                "SELECT parent_id, id, path, kind = 'folder' FROM read_parquet(?) "
                "SEMI JOIN wanted USING (parent_id)", params=[str(inventories[person])]
            ).fetchall()
            con.unregister("wanted")
            grouped: dict[int, list[tuple[int, Sibling]]] = defaultdict(list)
            for parent, entry_id, path, is_folder in rows:
                raw = bytes(path).rsplit(b"/", 1)[-1]
                grouped[parent].append((entry_id, Sibling(raw, bool(is_folder))))
            for parent, members in grouped.items():
                names = remediate_folder([s for _, s in members],
                                         at_root=at_root_allowed and parent == -1)
                for entry_id, sibling in members:
                    if sibling.raw_name in names:
                        out[(person, entry_id)] = names[sibling.raw_name]
    finally:
        con.close()
    return out


def write_mapping(rows: Sequence[MappingRow], data_dir: Path, person_key: str,
                  scan_id: str) -> Path:
    """Write one person's mapping table next to the inventory (temp, then rename)."""
    folder = data_dir / REMEDIATION_DIR / person_key
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{scan_id}.parquet"
    # A temp file of this writer's own: two reports of one scan at once (two readiness
    # reports queued together) each write theirs, and the last rename wins whole.
    temp = folder / f".{scan_id}.{uuid.uuid4().hex[:12]}.parquet.tmp"
    mine = [r for r in rows if r.person_key == person_key]
    table = pa.table({
        "person_key": [r.person_key for r in mine],
        "id": [r.id for r in mine],
        "path": [r.path for r in mine],
        "path_text": [r.path_text for r in mine],
        "action": [r.action.value for r in mine],
        "proposed_name": [r.proposed_name for r in mine],
        "findings": [list(r.findings) for r in mine],
        "reason": [r.reason for r in mine],
    }, schema=MAPPING_SCHEMA)
    pq.write_table(table, temp, compression="zstd")
    os.replace(temp, final)
    return final
