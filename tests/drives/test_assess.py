"""The assessment rules over inventories written directly (cases a Linux disk cannot hold,
such as names over 255 characters, and exact boundaries)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from mobilise.drives.assess import (
    MAX_PATH,
    Action,
    DriveInventory,
    FindingKind,
    assess,
    onedrive_prefix,
)
from mobilise.drives.columns import SCHEMA
from mobilise.drives.remediate import name_problems

UPN = "jo.bloggs@example.police.uk"


def write_inventory(path: Path, entries: list[tuple[str, str, int]]) -> Path:
    """entries: (relative path, kind, size); ids and parents are worked out."""
    ids = {p: i for i, (p, _, _) in enumerate(entries)}
    rows = []
    for i, (rel, kind, size) in enumerate(entries):
        parent, _, name = rel.rpartition("/")
        ext = name.rpartition(".")[2].lower() if "." in name[1:] and kind == "file" else None
        rows.append({"id": i, "parent_id": ids[parent] if parent else -1,
                     "path": rel.encode(), "path_text": rel, "name": name, "extension": ext,
                     "utf8": True, "size": size, "created": None, "modified": None,
                     "accessed": None, "mode": 0, "kind": kind, "depth": rel.count("/") + 1,
                     "error": None})
    pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), path)
    return path


def _found(result) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for f in result.findings.to_pylist():
        out.setdefault(f["path_text"], set()).add(f["finding"])
    return out


def test_prefix_follows_the_upn_rule():
    assert onedrive_prefix(UPN) == "personal/jo_bloggs_example_police_uk/Documents/"
    assert onedrive_prefix(UPN, "/From H drive/") == \
        "personal/jo_bloggs_example_police_uk/Documents/From H drive/"


def test_path_length_counts_the_prefix_and_target_folder_exactly(tmp_path):
    budget = MAX_PATH - len(onedrive_prefix(UPN))
    folder = "f" * 200
    at_limit = folder + "/" + "a" * (budget - 205) + ".txt"
    over = folder + "/" + "b" * (budget - 204) + ".txt"
    assert (len(at_limit), len(over)) == (budget, budget + 1)
    inv = write_inventory(tmp_path / "i.parquet", [(folder, "folder", 0),
                                                   (at_limit, "file", 1), (over, "file", 1)])
    found = _found(assess([DriveInventory("p", UPN, inv)], quota_bytes=10))
    assert found == {over: {"path_too_long"}}
    found = _found(assess([DriveInventory("p", UPN, inv)], quota_bytes=10,
                          target_folder="H"))
    assert found == {at_limit: {"path_too_long"}, over: {"path_too_long"}}


def test_names_over_255_characters(tmp_path):
    long_name = "n" * 256
    inv = write_inventory(tmp_path / "i.parquet", [(long_name, "file", 1), ("n" * 255, "file", 1)])
    assert _found(assess([DriveInventory("p", UPN, inv)], quota_bytes=10)) == {
        long_name: {"name_too_long"}}


def test_forms_folders_at_any_depth(tmp_path):
    """Real SharePoint libraries refuse a folder called forms below the root too (the
    emulator does the same); a file of that name is fine."""
    inv = write_inventory(tmp_path / "i.parquet", [("Forms", "folder", 0),
                                                   ("Work", "folder", 0),
                                                   ("Work/forms", "folder", 0),
                                                   ("Work/forms.txt", "file", 1)])
    found = {"Forms": {"forms_at_root"}, "Work/forms": {"forms_at_root"}}
    assert _found(assess([DriveInventory("p", UPN, inv)], quota_bytes=10)) == found
    # Under a target folder too: every level is inside the library.
    assert _found(assess([DriveInventory("p", UPN, inv)], quota_bytes=10,
                         target_folder="H drive")) == found


def test_per_person_totals_quota_and_actions(tmp_path):
    a = write_inventory(tmp_path / "a.parquet", [("docs", "folder", 0),
                                                 ("docs/x.txt", "file", 600),
                                                 ("docs/y?.txt", "file", 500),
                                                 ("run.jar", "file", 10)])
    b = write_inventory(tmp_path / "b.parquet", [("ok.txt", "file", 5)])
    result = assess([DriveInventory("a", UPN, a), DriveInventory("b", "b@x.uk", b)],
                    quota_bytes=1000)
    first, second = result.people
    assert (first.files, first.folders, first.bytes) == (3, 1, 1110)
    assert not first.fits_quota and not first.ready
    assert first.issues == {"invalid_characters": 1, "blocked_type": 1}
    assert (first.to_rename, first.cannot_move) == (1, 1)
    assert second.ready and second.issues == {}


def test_no_drives_gives_no_findings():
    result = assess([], quota_bytes=1)
    assert result.findings.num_rows == 0 and result.people == []


def test_sql_rules_and_python_rules_agree_on_names(tmp_path):
    names = ["a:b", "x?y", "CON", "con.txt", "COM1.log", "LPT9", "console.txt", ".lock",
             "desktop.ini", "Desktop.INI", " a", "a ", "a.", "~$a.docx", "~a.docx",
             "A_VTI_B", "_vti_", "ok", "e\u0301", "tab\there", "del\x7f", "pipe|", "star*",
             "quote\"", "lt<", "gt>", "back\\slash", "a..b", "~$", "_files", "normal.txt"]
    entries = [(n, "file", 1) for n in names] + [("~dir", "folder", 0)]
    inv = write_inventory(tmp_path / "i.parquet", entries)
    result = assess([DriveInventory("p", UPN, inv)], quota_bytes=10)
    name_kinds = {k.value for k in FindingKind if k.action is Action.RENAME} - {
        "case_collision", "name_not_utf8"}
    sql = {p: kinds & name_kinds for p, kinds in _found(result).items()}
    sql = {p: k for p, k in sql.items() if k}
    python = {}
    for name, kind, _ in entries:
        kinds = {k.value for k in name_problems(name, is_folder=kind == "folder",
                                                at_root=True)}
        if kinds:
            python[name] = kinds
    assert sql == python
