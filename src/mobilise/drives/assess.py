"""OneDrive readiness of scanned drives, assessed in DuckDB over the Parquet inventories.

Every rule is a column expression evaluated over all rows at once; nothing loops over
files in Python. Three passes read the inventories: one for the per-entry rules, one for
the rules about groups of siblings (case collisions, folders with too many items), one
for per-person totals. The rules follow ``shared/reference/onedrive-graph.md``; where
Microsoft's behaviour is unverified (``CON.txt``), the rule takes the cautious reading.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

MAX_PATH = 400
MAX_SEGMENT = 255
MAX_FILE_BYTES = 250 * 1024**3
MAX_FOLDER_ITEMS = 100_000
BLOCKED_TYPES = ("asmx", "ascx", "aspx", "htc", "jar", "master", "swf", "xap", "xsf")
DEVICE_NAMES = (
    ("con", "prn", "aux", "nul")
    + tuple(f"com{i}" for i in range(10))
    + tuple(f"lpt{i}" for i in range(10))
)
BLOCKED_NAMES = (".lock", "desktop.ini")
# Characters OneDrive refuses, plus the control characters common clients refuse.
INVALID_CHARACTERS = '"*:<>?/\\|' + "".join(chr(c) for c in range(1, 32)) + "\x7f"


class Action(StrEnum):
    RENAME = "rename"  # moves once renamed to the proposed name
    CANNOT_MOVE = "cannot_move"  # needs a person's decision or cannot go to OneDrive at all
    WARNING = "warning"  # moves, but something about it deserves a look


class FindingKind(StrEnum):
    """What OneDrive objects to. ``action`` says what the migration does about it."""

    INVALID_CHARACTERS = "invalid_characters"
    BLOCKED_NAME = "blocked_name"
    LEADING_OR_TRAILING_SPACE = "leading_or_trailing_space"
    TRAILING_PERIOD = "trailing_period"
    OFFICE_OWNER_FILE = "office_owner_file"
    VTI_IN_NAME = "vti_in_name"
    FORMS_AT_ROOT = "forms_at_root"
    TILDE_FOLDER = "tilde_folder"
    CASE_COLLISION = "case_collision"
    NAME_TOO_LONG = "name_too_long"
    NAME_NOT_UTF8 = "name_not_utf8"
    PATH_TOO_LONG = "path_too_long"
    FILE_TOO_LARGE = "file_too_large"
    BLOCKED_TYPE = "blocked_type"
    SYMLINK = "symlink"
    SPECIAL_FILE = "special_file"
    PERMISSION_DENIED = "permission_denied"
    VANISHED = "vanished"
    TOO_DEEP = "too_deep"
    LOOP = "loop"
    UNREADABLE = "unreadable"
    FOLDER_TOO_MANY_ITEMS = "folder_too_many_items"
    FILES_SUFFIX_FOLDER = "files_suffix_folder"
    MANGLED_NAME = "mangled_name"

    @property
    def action(self) -> Action:
        return _ACTIONS[self]

    @property
    def explanation(self) -> str:
        return _EXPLANATIONS[self]


_RENAMED = {
    FindingKind.INVALID_CHARACTERS, FindingKind.BLOCKED_NAME,
    FindingKind.LEADING_OR_TRAILING_SPACE, FindingKind.TRAILING_PERIOD,
    FindingKind.OFFICE_OWNER_FILE, FindingKind.VTI_IN_NAME, FindingKind.FORMS_AT_ROOT,
    FindingKind.TILDE_FOLDER, FindingKind.CASE_COLLISION, FindingKind.NAME_TOO_LONG,
    FindingKind.NAME_NOT_UTF8,
}
_WARNED = {FindingKind.FOLDER_TOO_MANY_ITEMS, FindingKind.FILES_SUFFIX_FOLDER,
           FindingKind.MANGLED_NAME}
_ACTIONS = {
    kind: Action.RENAME if kind in _RENAMED else Action.WARNING if kind in _WARNED
    else Action.CANNOT_MOVE
    for kind in FindingKind
}
_EXPLANATIONS = {
    FindingKind.INVALID_CHARACTERS: 'the name holds a character OneDrive refuses (" * : < > ? \\ | or a control character)',  # noqa: E501
    FindingKind.BLOCKED_NAME: "OneDrive refuses this name (a device name such as CON or LPT1, .lock or desktop.ini)",  # noqa: E501
    FindingKind.LEADING_OR_TRAILING_SPACE: "the name begins or ends with a space",
    FindingKind.TRAILING_PERIOD: "the name ends with a period",
    FindingKind.OFFICE_OWNER_FILE: "names beginning ~$ (Office owner files) are blocked",
    FindingKind.VTI_IN_NAME: "names containing _vti_ are blocked",
    # The kind keeps its stored name; real libraries refuse the folder at any depth.
    FindingKind.FORMS_AT_ROOT: "a folder called forms is not allowed anywhere in the library",
    FindingKind.TILDE_FOLDER: "folder names beginning ~ are blocked",
    FindingKind.CASE_COLLISION: "another name in the same folder differs only in letter case or Unicode form; OneDrive treats them as the same",  # noqa: E501
    FindingKind.NAME_TOO_LONG: f"the name is longer than {MAX_SEGMENT} characters",
    FindingKind.NAME_NOT_UTF8: "the name is not valid UTF-8 (a legacy encoding); it is decoded and renamed",  # noqa: E501
    FindingKind.PATH_TOO_LONG: f"the full OneDrive path would be longer than {MAX_PATH} characters; shorten folder names or move it higher",  # noqa: E501
    FindingKind.FILE_TOO_LARGE: "the file is larger than OneDrive's 250 GB limit",
    FindingKind.BLOCKED_TYPE: "this file type is blocked in OneDrive libraries (script and executable web types)",  # noqa: E501
    FindingKind.SYMLINK: "a symbolic link; OneDrive has no links, and links are not followed",
    FindingKind.SPECIAL_FILE: "a device, pipe or socket, not a file",
    FindingKind.PERMISSION_DENIED: "the scan was refused access; its contents are unknown",
    FindingKind.VANISHED: "it disappeared while the scan ran; scan again",
    FindingKind.TOO_DEEP: "nested deeper than the scan follows",
    FindingKind.LOOP: "the folder contains itself (a mount loop); not followed",
    FindingKind.UNREADABLE: "the scan could not read it (I/O error)",
    FindingKind.FOLDER_TOO_MANY_ITEMS: f"over {MAX_FOLDER_ITEMS:,} items in one folder; OneDrive listings become unreliable",  # noqa: E501
    FindingKind.FILES_SUFFIX_FOLDER: "folders ending _files or _file may fail to migrate (saved web pages)",  # noqa: E501
    FindingKind.MANGLED_NAME: "looks like an 8.3 name the SMB server made up (ABCDEF~1.TXT) for a name Windows forbids; the real name is not known: scan through a share with mangled names = no",  # noqa: E501
}


def onedrive_prefix(upn: str, target_folder: str = "") -> str:
    """The server-relative path before a person's files; it counts towards the 400."""
    site = upn.replace(".", "_").replace("@", "_")
    folder = target_folder.strip("/")
    return f"personal/{site}/Documents/" + (f"{folder}/" if folder else "")


@dataclass(frozen=True)
class DriveInventory:
    """One person's inventory to assess (plain inputs; the register supplies them)."""

    person_key: str
    upn: str
    inventory: Path
    org_unit: str | None = None


@dataclass(frozen=True)
class PersonReadiness:
    person_key: str
    upn: str
    files: int
    folders: int
    bytes: int
    quota_bytes: int
    issues: dict[str, int] = field(default_factory=dict)
    to_rename: int = 0
    cannot_move: int = 0
    warnings: int = 0

    @property
    def fits_quota(self) -> bool:
        return self.bytes <= self.quota_bytes

    @property
    def ready(self) -> bool:
        return self.fits_quota and self.cannot_move == 0 and self.to_rename == 0


@dataclass
class Assessment:
    """Findings (one row per entry and kind) and per-person readiness."""

    findings: pa.Table
    people: list[PersonReadiness]
    target_folder: str = ""


def _sql_list(values: Sequence[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


# Samba's hash2 mangled names (and Windows short names): up to six characters, a tilde,
# one more, and up to three of the extension, all upper case from the 8.3 alphabet.
_MANGLED_CHARACTER = "[0-9A-Z_!#$%@-]"
MANGLED_NAME_PATTERN = (f"^{_MANGLED_CHARACTER}{{1,6}}~{_MANGLED_CHARACTER}"
                        f"(\\.{_MANGLED_CHARACTER}{{1,3}})?$")


def _invalid_character_class() -> str:
    # RE2 class; SQL string literals keep backslashes as they are.
    return '["*:<>?/\\\\|\\x01-\\x1F\\x7F]'


def _row_rules_sql() -> str:
    k = FindingKind
    rules = [
        (k.INVALID_CHARACTERS, f"utf8 AND regexp_matches(name, '{_invalid_character_class()}')"),
        (k.BLOCKED_NAME, f"lower(name) IN ({_sql_list(BLOCKED_NAMES)}) "
                         f"OR split_part(lower(name), '.', 1) IN ({_sql_list(DEVICE_NAMES)})"),
        (k.LEADING_OR_TRAILING_SPACE, "starts_with(name, ' ') OR ends_with(name, ' ')"),
        (k.TRAILING_PERIOD, "ends_with(name, '.')"),
        (k.OFFICE_OWNER_FILE, "starts_with(name, '~$')"),
        (k.VTI_IN_NAME, "contains(lower(name), '_vti_')"),
        (k.FORMS_AT_ROOT, "kind = 'folder' AND lower(name) = 'forms'"),
        (k.TILDE_FOLDER, "kind = 'folder' AND starts_with(name, '~')"),
        (k.NAME_TOO_LONG, f"length(name) > {MAX_SEGMENT}"),
        (k.NAME_NOT_UTF8, "NOT utf8"),
        (k.PATH_TOO_LONG, f"prefix_len + length(path_text) > {MAX_PATH}"),
        (k.FILE_TOO_LARGE, f"kind = 'file' AND size > {MAX_FILE_BYTES}"),
        (k.BLOCKED_TYPE, f"extension IN ({_sql_list(BLOCKED_TYPES)})"),
        (k.SYMLINK, "kind = 'symlink'"),
        (k.SPECIAL_FILE, "kind = 'special'"),
        (k.FILES_SUFFIX_FOLDER, "kind = 'folder' AND (ends_with(lower(name), '_files') "
                                "OR ends_with(lower(name), '_file'))"),
        (k.MANGLED_NAME, f"regexp_full_match(name, '{MANGLED_NAME_PATTERN}')"),
    ]
    cases = [f"CASE WHEN {cond} THEN '{kind.value}' END" for kind, cond in rules]
    errors = [k.PERMISSION_DENIED, k.VANISHED, k.TOO_DEEP, k.LOOP, k.UNREADABLE]
    cases.append(f"CASE WHEN error IN ({_sql_list([e.value for e in errors])}) THEN error END")
    return "list_filter(list_value(" + ", ".join(cases) + "), lambda x: x IS NOT NULL)"


def _candidate_sql() -> str:
    """A superset of the rows any per-entry rule matches, cheap to evaluate."""
    devices = "|".join(DEVICE_NAMES)
    name_rules = (
        "(?i)" + _invalid_character_class()
        + r"|^ | $|\.$|^~|_vti_|_files?$|^forms$|^\.lock$|^desktop\.ini$"
        + f"|^({devices})(\\.|$)|~"
    )
    return (
        f"regexp_matches(name, '{name_rules}') OR NOT utf8 "
        f"OR strlen(name) > {MAX_SEGMENT} OR prefix_len + strlen(path_text) > {MAX_PATH} "
        f"OR size > {MAX_FILE_BYTES} OR extension IN ({_sql_list(BLOCKED_TYPES)}) "
        "OR kind IN ('symlink', 'special') OR error IS NOT NULL"
    )


_ENTRY_COLUMNS = "person_key, id, parent_id, path, path_text, name, kind AS entry_kind"


def assess(
    drives: Sequence[DriveInventory],
    *,
    quota_bytes: int,
    target_folder: str = "",
    connection: duckdb.DuckDBPyConnection | None = None,
) -> Assessment:
    """Assess the inventories of ``drives`` against every OneDrive rule."""
    con = connection or duckdb.connect()
    try:
        _register(con, drives, target_folder)
        findings = _findings(con)
        people = _readiness(con, drives, findings, quota_bytes)
    finally:
        if connection is None:
            con.close()
    return Assessment(findings, people, target_folder)


def _register(con: duckdb.DuckDBPyConnection, drives: Sequence[DriveInventory],
              target_folder: str) -> None:
    files = [str(d.inventory) for d in drives]
    table = pa.table({
        "file": files,
        "person_key": [d.person_key for d in drives],
        "prefix_len": [len(onedrive_prefix(d.upn, target_folder)) for d in drives],
        "base_prefix_len": [len(onedrive_prefix(d.upn)) for d in drives],
    })
    con.register("drive_table", table)
    con.sql("CREATE OR REPLACE TEMP TABLE drive AS SELECT * FROM drive_table")
    con.unregister("drive_table")
    if not files:
        con.sql("CREATE OR REPLACE TEMP VIEW inv AS SELECT NULL::VARCHAR AS person_key, "
                    "NULL::BIGINT AS id, NULL::BIGINT AS parent_id, NULL::BLOB AS path, "
                    "NULL::VARCHAR AS path_text, NULL::VARCHAR AS name, NULL::VARCHAR AS "
                    "kind, NULL::BIGINT AS size, NULL::BOOLEAN AS utf8 WHERE false")
        return
    file_list = "[" + _sql_list(files) + "]"
    con.sql(
        f"CREATE OR REPLACE TEMP VIEW inv AS SELECT i.*, d.person_key, d.prefix_len, "
        f"d.base_prefix_len FROM read_parquet({file_list}, filename = true) i "
        f"JOIN drive d ON i.filename = d.file"
    )


def _findings(con: duckdb.DuckDBPyConnection) -> pa.Table:
    if con.sql("SELECT count(*) FROM drive").fetchall() == [(0,)]:
        return _empty_findings()
    # Pass 1: a cheap test selects the few candidate rows (one combined regular
    # expression for the name rules, byte lengths before character lengths); the exact
    # rules then run only on those.
    row_rules = (
        f"SELECT {_ENTRY_COLUMNS}, unnest(kinds) AS finding FROM ("
        f"  SELECT *, {_row_rules_sql()} AS kinds FROM inv WHERE {_candidate_sql()}) "
        "WHERE len(kinds) > 0"
    )
    # Pass 2: collisions. Grouping 10 million distinct strings is slow, so siblings are
    # grouped by a 64-bit hash of (person, folder, key) first and the few groups that
    # repeat are checked on the real key. NFC then lower: the same key as
    # mobilise.drives.remediate.name_key. Names that are not UTF-8 are all renamed, and
    # remediation resolves their collisions itself.
    key = "lower(nfc_normalize(name))"
    hashed = f"hash(person_key, parent_id, {key})"
    ctes = (
        f"dup AS (SELECT {hashed} AS h FROM inv WHERE utf8 GROUP BY h HAVING count(*) > 1), "
        f"suspect AS (SELECT person_key, id, parent_id, {key} AS k FROM inv "
        f"  WHERE utf8 AND {hashed} IN (SELECT h FROM dup)), "
        "clash AS (SELECT person_key, parent_id, k FROM suspect GROUP BY ALL "
        "  HAVING count(*) > 1), "
        "clashing AS (SELECT person_key, id FROM suspect "
        "  SEMI JOIN clash USING (person_key, parent_id, k)), "
        "big AS (SELECT person_key, parent_id FROM inv GROUP BY ALL "
        f"  HAVING count(*) > {MAX_FOLDER_ITEMS})"
    )
    collisions = (
        f"SELECT {_ENTRY_COLUMNS}, '{FindingKind.CASE_COLLISION.value}' AS finding "
        "FROM inv SEMI JOIN clashing USING (person_key, id)"
    )
    crowded = (
        f"SELECT {_ENTRY_COLUMNS}, '{FindingKind.FOLDER_TOO_MANY_ITEMS.value}' AS finding "
        "FROM inv SEMI JOIN big ON inv.person_key = big.person_key AND inv.id = big.parent_id "
        "UNION ALL "
        "SELECT person_key, -1, -1, ''::BLOB, '', '', 'folder', "
        f"'{FindingKind.FOLDER_TOO_MANY_ITEMS.value}' FROM big WHERE parent_id = -1"
    )
    query = (f"WITH {ctes} SELECT * FROM ({row_rules} UNION ALL {collisions} "
             f"UNION ALL {crowded}) ORDER BY person_key, path_text, finding")
    return con.sql(query).to_arrow_table()


def _empty_findings() -> pa.Table:
    return pa.table({
        "person_key": pa.array([], pa.string()), "id": pa.array([], pa.int64()),
        "parent_id": pa.array([], pa.int64()), "path": pa.array([], pa.binary()),
        "path_text": pa.array([], pa.string()), "name": pa.array([], pa.string()),
        "entry_kind": pa.array([], pa.string()), "finding": pa.array([], pa.string()),
    })


def _readiness(con: duckdb.DuckDBPyConnection, drives: Sequence[DriveInventory],
               findings: pa.Table, quota_bytes: int) -> list[PersonReadiness]:
    totals: dict[str, tuple[int, int, int]] = {}
    if drives:
        rows = con.sql(
            "SELECT person_key, count(*) FILTER (kind = 'file'), "
            "count(*) FILTER (kind = 'folder'), "
            "coalesce(sum(size) FILTER (kind = 'file'), 0) FROM inv GROUP BY person_key"
        ).fetchall()
        totals = {r[0]: (int(r[1]), int(r[2]), int(r[3])) for r in rows}
    issues, actions = _issue_counts(con, findings)
    people = []
    for d in drives:
        files, folders, size = totals.get(d.person_key, (0, 0, 0))
        per_action = actions.get(d.person_key, {})
        people.append(PersonReadiness(
            d.person_key, d.upn, files, folders, size, quota_bytes,
            issues.get(d.person_key, {}),
            per_action.get(Action.RENAME, 0), per_action.get(Action.CANNOT_MOVE, 0),
            per_action.get(Action.WARNING, 0),
        ))
    return people


def _issue_counts(
    con: duckdb.DuckDBPyConnection, findings: pa.Table
) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, int]]]:
    """Findings per kind, and entries per action (an entry counts once per action: a
    file both misnamed and too large counts as one that cannot move)."""
    con.register("finding_table", findings)
    try:
        by_kind = con.sql(
            "SELECT person_key, finding, count(*) FROM finding_table GROUP BY ALL"
        ).fetchall()
        action_of = " ".join(f"WHEN '{k.value}' THEN '{k.action.value}'" for k in FindingKind)
        by_action = con.sql(
            "WITH a AS (SELECT person_key, id, path_text, "
            f"  min(CASE finding {action_of} END) AS action FROM finding_table GROUP BY ALL) "
            "SELECT person_key, action, count(*) FROM a GROUP BY ALL"
        ).fetchall()
    finally:
        con.unregister("finding_table")
    issues: dict[str, dict[str, int]] = {}
    for person, kind, n in by_kind:
        issues.setdefault(person, {})[kind] = int(n)
    actions: dict[str, dict[str, int]] = {}
    for person, action, n in by_action:
        actions.setdefault(person, {})[action] = int(n)
    return issues, actions


def findings_as_dicts(findings: pa.Table) -> list[dict[str, Any]]:
    return [
        {"person_key": r["person_key"], "path": r["path_text"], "name": r["name"],
         "entry_kind": r["entry_kind"], "finding": r["finding"],
         "action": FindingKind(r["finding"]).action.value}
        for r in findings.to_pylist()
    ]
