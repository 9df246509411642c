"""SPMT / Migration Manager bulk task files, so existing task lists and tooling carry over.

CSV, one task per row, no header: Source, Source DocLib, Source SubFolder, Target Web,
Target DocLib, Target SubFolder (and optionally two hub-site columns, ignored here). For a
home drive the source is the file-share folder and the target web the person's OneDrive,
``https://<tenant>-my.sharepoint.com/personal/<upn with _ for . and @>/``, library
``Documents``. JSON: ``{"Tasks": [{"SourcePath", "TargetPath", "TargetList",
"TargetListRelativePath"}]}``.

Importing matches each task to a person (by OneDrive URL, else by home directory) and
gives the people for a wave; a file with any unmatched or malformed task is rejected
whole, with ``file:line:column`` problems.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilise.core.errors import FileProblem, ImportRejected
from mobilise.core.settings import Settings
from mobilise.drives.roots import confine_drive_root
from mobilise.people.models import Person

LIBRARY = "Documents"


@dataclass(frozen=True)
class BulkTask:
    source: str
    source_library: str
    source_subfolder: str
    target_web: str
    target_library: str
    target_subfolder: str


def upn_segment(upn: str) -> str:
    return re.sub(r"[.@]", "_", upn.lower())


def onedrive_url(settings: Settings, upn: str) -> str:
    return f"https://{settings.tenant_host}/personal/{upn_segment(upn)}/"


def task_source(settings: Settings, person: Person) -> str:
    """The person's H: drive as SPMT reaches it: their recorded home directory (a UNC
    path, inside ``home_unc_root`` when that is set), else the path a round uses. Either
    must be a folder inside the home root (``drives.roots``)."""
    from mobilise.migration.rounds import source_spec

    if person.home_directory:
        return confine_drive_root(person.home_directory,
                                  settings.home_unc_root or _share_of(person.home_directory))
    return str(source_spec(settings, person)["root"])


def _share_of(path: str) -> str:
    # Without a configured root, a UNC path is at least confined to its own share.
    steps = [s for s in path.replace("/", "\\").split("\\") if s]
    return "\\\\" + "\\".join(steps[:2]) if path.startswith("\\\\") else "/"


def person_task(settings: Settings, person: Person, source: str) -> BulkTask:
    return BulkTask(source, "", "", onedrive_url(settings, person.upn), LIBRARY, "")


def tasks_csv(tasks: Sequence[BulkTask]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for t in tasks:
        writer.writerow([t.source, t.source_library, t.source_subfolder, t.target_web,
                         t.target_library, t.target_subfolder])
    return out.getvalue()


def tasks_json(tasks: Sequence[BulkTask]) -> str:
    return json.dumps({"Tasks": [
        {"SourcePath": t.source, "TargetPath": t.target_web, "TargetList": t.target_library,
         "TargetListRelativePath": t.target_subfolder} for t in tasks]}, indent=2)


def read_tasks(path: Path) -> list[BulkTask]:
    """Tasks from a bulk CSV or JSON file (by extension), or ImportRejected."""
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".json":
        return _read_json(path.name, text)
    return _read_csv(path.name, text)


def _read_csv(name: str, text: str) -> list[BulkTask]:
    tasks, problems = [], []
    for line, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) not in (6, 8):
            problems.append(FileProblem(name, line, 1, f"{len(row)} columns; a task has 6 "
                                        "(or 8 with the hub-site columns)"))
            continue
        cells = [c.strip() for c in row[:6]]
        for column, label in ((1, "Source"), (4, "Target Web")):
            if not cells[column - 1]:
                problems.append(FileProblem(name, line, column, f"{label} is empty"))
        tasks.append(BulkTask(*cells))
    if problems:
        raise ImportRejected(problems)
    return tasks


def _read_json(name: str, text: str) -> list[BulkTask]:
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportRejected([FileProblem(name, exc.lineno, exc.colno, exc.msg)]) from None
    items = data.get("Tasks") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ImportRejected([FileProblem(name, 1, 1, 'expected {"Tasks": [...]}')])
    tasks, problems = [], []
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict) or not item.get("SourcePath") or \
                not item.get("TargetPath"):
            problems.append(FileProblem(name, number, 1,
                                        f"task {number}: SourcePath and TargetPath are needed"))
            continue
        tasks.append(BulkTask(str(item["SourcePath"]), "", "", str(item["TargetPath"]),
                              str(item.get("TargetList") or LIBRARY),
                              str(item.get("TargetListRelativePath") or "")))
    if problems:
        raise ImportRejected(problems)
    return tasks


def match_people(session: Session, settings: Settings, tasks: Sequence[BulkTask],
                 file_name: str = "tasks") -> list[Person]:
    """The person each task moves, by OneDrive URL, else by home directory."""
    people = list(session.scalars(select(Person)))
    by_segment = {upn_segment(p.upn): p for p in people}
    by_home = {_norm(p.home_directory): p for p in people if p.home_directory}
    matched, problems = [], []
    for line, task in enumerate(tasks, start=1):
        found = re.search(r"/personal/([^/]+)/?", task.target_web)
        person = by_segment.get(found.group(1).lower()) if found else None
        person = person or by_home.get(_norm(task.source))
        if person is None:
            problems.append(FileProblem(file_name, line, 4,
                                        f"no person for {task.target_web!r} / {task.source!r}"))
        else:
            matched.append(person)
    if problems:
        raise ImportRejected(problems)
    return matched


def _norm(path: str) -> str:
    return path.replace("\\", "/").rstrip("/").lower()
