"""Assessment benchmark: every OneDrive rule over 10,000,000 inventory rows.

    PYTHONPATH=src python bench/bench_assess.py [--rows 10000000] [--people 100]

Synthetic inventories (one Parquet file per person, the scanner's schema) are built once
under ``~/.cache/mobilise-bench`` with about 1% problem names, then assessed. The anchor
is DuckDB reading every name in the same files (``count(DISTINCT name)``-free scan:
``sum(length(name))``), timed in the same run. Target (issue 4): under 10 s.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mobilise.drives.assess import DriveInventory, assess
from mobilise.drives.columns import SCHEMA

FILES_PER_FOLDER = 40
PROBLEM_NAMES = ["a:b.docx", "CON.txt", " lead.txt", "trail.txt ", "dot.", "~$doc.docx",
                 "x_vti_y.txt", "Report.doc", "report.DOC", "evil.jar", "Forms"]


def person_rows(rows: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    ids = np.arange(rows, dtype=np.int64)
    folders = rows // FILES_PER_FOLDER + 1
    # Rows 0..folders-1 are folders (at the root), the rest files spread across them.
    is_folder = ids < folders
    parent = np.where(is_folder, -1, ids % folders)
    names = pc.binary_join_element_wise(
        pa.array(np.where(is_folder, "Folder ", "Report ")),
        pa.array(ids.astype(str)),
        pa.array(np.where(is_folder, "", ".docx")), "")
    problem = rng.random(rows) < 0.01
    picks = pa.array(np.array(PROBLEM_NAMES)[rng.integers(0, len(PROBLEM_NAMES), rows)])
    names = pc.if_else(pa.array(problem & ~is_folder), picks, names)
    folder_names = pc.binary_join_element_wise("Folder ", pa.array(parent.astype(str)), "")
    path = pc.if_else(pa.array(is_folder), names,
                      pc.binary_join_element_wise(folder_names, names, "/"))
    kind = pa.array(np.where(is_folder, "folder", "file"))
    ext = pc.struct_field(pc.extract_regex(names, r"\.(?P<e>[^.]+)$"), "e")
    micros = pa.array(rng.integers(1.3e15, 1.7e15, rows), pa.int64())
    ts = micros.cast(SCHEMA.field("modified").type)
    columns = {
        "id": ids, "parent_id": parent, "path": path.cast(pa.binary()), "path_text": path,
        "name": names, "extension": pc.utf8_lower(ext), "utf8": np.ones(rows, bool),
        "size": rng.integers(0, 5_000_000, rows), "created": ts, "modified": ts,
        "accessed": ts, "mode": pa.array(np.where(is_folder, 0o40755, 0o100644), pa.uint32()),
        "kind": kind, "depth": pa.array(np.where(is_folder, 1, 2), pa.int32()),
        "error": pa.nulls(rows, pa.string()),
    }
    return pa.table(columns, schema=SCHEMA)


def build(folder: Path, rows: int, people: int) -> list[DriveInventory]:
    folder.mkdir(parents=True, exist_ok=True)
    drives = []
    for p in range(people):
        path = folder / f"person{p:05d}.parquet"
        if not path.exists():
            pq.write_table(person_rows(rows // people, p), path, compression="zstd")
        drives.append(DriveInventory(f"person{p:05d}", f"person.{p}@example.police.uk", path))
    return drives


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--people", type=int, default=100)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "mobilise-bench")
    args = parser.parse_args()
    drives = build(args.cache / f"inventories-{args.rows}-{args.people}", args.rows, args.people)
    files = "[" + ", ".join(f"'{d.inventory}'" for d in drives) + "]"
    con = duckdb.connect()
    started = time.perf_counter()
    con.sql(f"SELECT sum(length(name)) FROM read_parquet({files})").fetchall()
    anchor = time.perf_counter() - started
    started = time.perf_counter()
    result = assess(drives, quota_bytes=1024**4, target_folder="Migrated H drive")
    elapsed = time.perf_counter() - started
    rows = sum(p.files + p.folders for p in result.people)
    print(f"rows assessed      {rows:,}")
    print(f"findings           {result.findings.num_rows:,}")
    print(f"anchor (read names) {anchor:6.2f} s")
    print(f"assessment         {elapsed:6.2f} s  {rows / elapsed:12,.0f} rows/s  "
          f"(target < 10 s; {elapsed / anchor:.1f}x the anchor)")


if __name__ == "__main__":
    main()
