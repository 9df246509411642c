"""Synthetic H: drives for demo people: realistic folders, types, sizes and ages, and a
sprinkling of every problem OneDrive has. Deterministic for a seed; small on disk (files
are sparse: a few real bytes, then a hole up to their nominal size)."""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mobilise.core.settings import Settings
from mobilise.core.words import size_text

# (extension, weight, median size in bytes)
FILE_TYPES: list[tuple[str, int, int]] = [
    ("docx", 30, 40_000), ("xlsx", 14, 60_000), ("pdf", 14, 250_000), ("msg", 10, 80_000),
    ("jpg", 9, 1_500_000), ("pptx", 5, 2_000_000), ("txt", 5, 3_000), ("csv", 4, 30_000),
    ("zip", 3, 4_000_000), ("doc", 4, 60_000), ("xls", 2, 90_000),
]
TOP_FOLDERS = ["Documents", "Desktop", "My Pictures", "Downloads", "Work", "Personal"]
WORK_FOLDERS = ["Case Files", "Training", "Rotas", "Meetings", "Reports", "Templates",
                "Appraisals", "Operations", "Briefings", "Expenses", "Projects", "Archive"]
WORDS = ["Report", "Notes", "Statement", "Budget", "Rota", "Minutes", "Brief", "Plan",
         "Summary", "Review", "Letter", "Checklist", "Schedule", "Form", "Return"]
MAX_SIZE = 50 * 1024**2


@dataclass(frozen=True)
class DemoPerson:
    key: str
    sam: str
    first_name: str
    last_name: str
    org_unit: str


@dataclass
class DriveStats:
    people: int = 0
    files: int = 0
    bytes: int = 0
    problems: int = 0


def _problem_files(rng: random.Random, person: DemoPerson) -> list[tuple[bytes, str]]:
    """(relative path, what) for a few files OneDrive will object to."""
    long_folder = (f"Operation {person.last_name} " + "background material " * 10).strip()
    catalogue: list[tuple[bytes, str]] = [
        (b"Documents/Notes: meeting.docx", "invalid character"),
        (b"Documents/What next?.txt", "invalid character"),
        (b"Documents/CON.txt", "reserved name"),
        (b"Desktop/desktop.ini", "blocked name"),
        (b"Documents/~$Report.docx", "Office owner file"),
        (b"Work/tool.jar", "blocked type"),
        (b"Work/old intranet.aspx", "blocked type"),
        (b"Documents/Budget.xlsx", "case collision"),
        (b"Documents/budget.xlsx", "case collision"),
        (b"Documents/Final version .docx ", "trailing space"),
        (b"Documents/Draft.", "trailing period"),
        (b"Documents/R\xe9sum\xe9.doc", "name not UTF-8"),
        (b"Work/_vti_cnf/page.htm", "_vti_"),
        (b"forms/Leave request.docx", "forms at root"),
        (b"Work/~backup/Rota.xlsx", "folder beginning ~"),
        (b"Downloads/Saved page_files/logo.png", "_files folder"),
        ((f"Work/{long_folder}/{long_folder}/" + "Statement of witness " * 4
          + ".docx").encode(), "path too long"),
    ]
    return rng.sample(catalogue, k=rng.randint(1, 4))


def _file_size(rng: random.Random, median: int) -> int:
    return min(MAX_SIZE, max(0, int(rng.lognormvariate(0, 1.2) * median)))


def _write_sparse(path: bytes, size: int, rng: random.Random, mtime: float) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(rng.randbytes(min(size, 64)))  # distinct content, so hashes differ
        if size > 64:
            fh.truncate(size)
    os.utime(path, (mtime, mtime))


def generate_drive(person: DemoPerson, home_root: Path, seed: int, *, today: datetime,
                   files: tuple[int, int] = (20, 200), problem_rate: float = 0.35
                   ) -> DriveStats:
    """One person's home directory under ``home_root/<sam>``."""
    rng = random.Random(f"{seed}:{person.key}")
    home = os.fsencode(home_root / person.sam)
    os.makedirs(home, exist_ok=True)
    folders = [f"{top}/{rng.choice(WORK_FOLDERS)}" if rng.random() < 0.6 else top
               for top in rng.sample(TOP_FOLDERS, k=rng.randint(2, len(TOP_FOLDERS)))]
    stats = DriveStats(people=1)
    types = [t for t, _, _ in FILE_TYPES]
    weights = [w for _, w, _ in FILE_TYPES]
    medians = {t: m for t, _, m in FILE_TYPES}
    seen: set[bytes] = set()
    for _ in range(rng.randint(*files)):
        ext = rng.choices(types, weights)[0]
        name = f"{rng.choice(WORDS)} {rng.randint(1, 999)}.{ext}"
        rel = f"{rng.choice(folders)}/{name}".encode()
        if rel.lower() in seen:
            continue  # only the sprinkled problems collide
        seen.add(rel.lower())
        size = _file_size(rng, medians[ext])
        age = timedelta(days=rng.uniform(0, 12 * 365))
        _write_sparse(os.path.join(home, rel), size, rng, (today - age).timestamp())
        stats.files += 1
        stats.bytes += size
    if rng.random() < problem_rate:
        for rel, _ in _problem_files(rng, person):
            size = _file_size(rng, 20_000)
            age = timedelta(days=rng.uniform(0, 5 * 365))
            _write_sparse(os.path.join(home, rel), size, rng, (today - age).timestamp())
            stats.files += 1
            stats.bytes += size
            stats.problems += 1
    return stats


def generate_drives(people: Sequence[DemoPerson], home_root: Path, seed: int = 1322, *,
                    today: datetime | None = None, files: tuple[int, int] = (20, 200),
                    orphans: int = 3, problem_rate: float = 0.35) -> DriveStats:
    """Home directories for ``people``, plus ``orphans`` drives of people who have left
    (in no roster), as a real share has."""
    when = today or datetime(2022, 11, 1, tzinfo=UTC)
    total = DriveStats()
    for person in people:
        one = generate_drive(person, home_root, seed, today=when, files=files,
                             problem_rate=problem_rate)
        total.people += 1
        total.files += one.files
        total.bytes += one.bytes
        total.problems += one.problems
    rng = random.Random(f"{seed}:orphans")
    for n in range(orphans):
        leaver = DemoPerson(f"left{n}", f"zz-left{n}-{rng.randint(100, 999)}", "Former",
                            f"Colleague{n}", "")
        generate_drive(leaver, home_root, seed, today=when, files=(5, 20), problem_rate=0.0)
    return total


def drives_step(settings: Settings, out_dir: Path, people: int, seed: int) -> str:
    """The demo's drives step: a home directory for every active person (and a few
    orphans), then a scan and assessment of them all, as an operator would run it."""
    from sqlalchemy import select
    from sqlalchemy.orm import joinedload

    from mobilise.core.clock import SystemClock
    from mobilise.core.db import session_scope
    from mobilise.demo.people import on_demo_share
    from mobilise.drives import estate
    from mobilise.people.models import Person, PersonStatus

    local = on_demo_share(settings)
    with session_scope(local) as s:
        register = s.scalars(select(Person).options(joinedload(Person.org_unit))
                             .where(Person.status == PersonStatus.ACTIVE.value)
                             .order_by(Person.number)).unique().all()
        demo_people = [DemoPerson(p.number, p.sam_account_name or p.number, p.first_name,
                                  p.last_name, p.org_unit.code if p.org_unit else "")
                       for p in register]
    stats = generate_drives(demo_people, local.home_root, seed)
    with session_scope(local) as s:
        scanned = estate.scan_people(s, local, estate.select_people(s, everyone=True),
                                     SystemClock())
        complete = [r for r in scanned.scans if r.status == "complete"]
        renames = sum(r.to_rename for r in complete)
        blocked = sum(r.cannot_move for r in complete)
    return (f"H: drives: {stats.people:,} generated ({stats.files:,} files, "
            f"{size_text(stats.bytes)}), {len(complete):,} scanned: {renames:,} names to fix, "
            f"{blocked:,} items that cannot move, {len(scanned.discovery.orphans)} drives of "
            "people no longer in the roster")
