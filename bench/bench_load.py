"""Load benchmark: the main pages and API of the full-size demo under 50 concurrent clients.

Run (SQLite, then PostgreSQL started by script/services.sh):

    PYTHONPATH=src python bench/bench_load.py
    PYTHONPATH=src python bench/bench_load.py --pg-url "$MOBILISE_TEST_PG_URL"

The estate is ``mobilise demo --people 45000`` (the demo's steps, through the same
operations users run), topped up with handsets in stock to 40,000 if the demo's fleet is
smaller. One step is replaced: instead of writing and scanning some five million files
for the H: drives, every active person gets a synthetic completed scan summary (the rows
the pages read), so there is no retention dry run over inventories.

The estate is built once and cached under ~/.cache/mobilise-bench (a SQLite file and the
demo's data folder; for PostgreSQL, a pg_dump of the same rows), keyed on the size; each
run upgrades a copy to the current schema (``--rebuild`` after the demo changes), so
re-runs start in seconds.

The server is ``mobilise serve`` (``--workers`` processes and its refresher process, as
deployed), on loopback. Each of the 50 clients is a signed-in member of staff: it opens a
page or calls the API, reads the answer, waits a moment (``--think``, uniform around a
second, as a person clicks), and goes on through the routes in turn, for ``--seconds``.
``--think 0`` makes every client a tight loop instead (a saturation test). ``--handovers
N`` adds a service desk recording N hand-overs a minute through the API meanwhile: every
one is audited, so the pages' cached aggregates go stale N times a minute (without it the
load only reads). Reported per route: requests, p50, p95, p99 and the worst, in
milliseconds; the target is p99 under 200 ms on every route. The anchor, run first in the
same session, is /healthz (no database): what the machine and the server cost before
Mobilise does any work.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
from sqlalchemy import func, insert, select, text

from mobilise.core import auth
from mobilise.core.actor import Actor
from mobilise.core.db import make_engine, session_scope
from mobilise.core.settings import Settings
from mobilise.devices.identifiers import with_check_digit
from mobilise.devices.models import Handset, HandsetModel
from mobilise.drives.models import DriveScan
from mobilise.models import metadata
from mobilise.people.models import Person
from mobilise.schema import upgrade_schema

CACHE = Path(os.environ.get("MOBILISE_BENCH_CACHE", Path.home() / ".cache" / "mobilise-bench"))
BENCH_USER, BENCH_PASSWORD = "bench", "bench load password"
ACTOR = Actor("bench")
TARGET_P99_MS = 200.0


# --------------------------------------------------------------------------- the estate


def demo_settings(db_url: str, data: Path) -> Settings:
    return Settings(database_url=db_url, data_dir=data / "data", home_root=data / "home",
                    archive_root=data / "archive", migration_destination_root=data / "onedrive")


def cache_dir(people: int, handsets: int) -> Path:
    # Not keyed on the code: a newer schema is reached by upgrading a copy (see
    # ``fresh_copy``); after the demo itself changes, run with --rebuild.
    return CACHE / f"demo-{people}-{handsets}"


def top_up_handsets(settings: Settings, target: int) -> int:
    """Handsets in stock (received, unenrolled) until the register holds ``target``."""
    with session_scope(settings) as s:
        have = s.scalar(select(func.count()).select_from(Handset)) or 0
        model = s.scalar(select(HandsetModel.id).order_by(HandsetModel.id))
        if have >= target or model is None:
            return int(have)
    rows = [{"imei": with_check_digit(f"36{n:012d}"), "serial": f"BENCH{n:09d}",
             "model_id": model, "status": "received", "compliance": "unknown",
             "purchase_order": "PO-BENCH", "purchase_date": date(2022, 11, 1)}
            for n in range(target - have)]
    with make_engine(settings.database_url).begin() as conn:
        for start in range(0, len(rows), 5000):
            conn.execute(insert(Handset), rows[start:start + 5000])
    return target


def scan_summaries(settings: Settings, rng: random.Random) -> str:
    """A completed scan summary for every active person, in place of the demo's drives
    step: at full size that step writes and scans some five million files (an hour and
    more), and the pages read only these per-person summaries."""
    with session_scope(settings) as s:
        people = list(s.scalars(select(Person.id).where(Person.status == "active")))
    now = datetime.now(UTC)
    rows = []
    for n, person in enumerate(people):
        files = rng.randint(20, 200)
        rows.append({"person_id": person, "scan_id": f"bench-{n}", "status": "complete",
                     "root": f"/home/{person}", "scanned_at": now, "entries": files + 10,
                     "files": files, "folders": 10, "bytes": files * rng.randint(50_000, 900_000),
                     "errors": 0, "to_rename": rng.choice([0, 0, 0, 1, 3]),
                     "cannot_move": rng.choice([0, 0, 0, 0, 1]), "warnings": 0,
                     "fits_quota": True, "issues": None})
    with make_engine(settings.database_url).begin() as conn:
        for start in range(0, len(rows), 5000):
            conn.execute(insert(DriveScan), rows[start:start + 5000])
    return f"{len(rows):,} scan summaries (synthetic, no files)"


def build_sqlite(people: int, handsets: int, report: list[str]) -> Path:
    """The cached demo estate (built if missing); returns its folder."""
    from mobilise.demo.drives import drives_step
    from mobilise.demo.run import STEPS

    folder = cache_dir(people, handsets)
    if (folder / "ready").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    settings = demo_settings(f"sqlite:///{folder / 'demo.db'}", folder)
    began = time.perf_counter()
    upgrade_schema(settings)
    for step in STEPS:
        if step is drives_step:
            print("  drives: " + scan_summaries(settings, random.Random(1322)))
        else:
            print("  " + step(settings, folder / "out", people, 1322))
    have = top_up_handsets(settings, handsets)
    with make_engine(settings.database_url).connect() as conn:
        conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    make_engine(settings.database_url).dispose()
    report.append(f"built the demo at {people:,} people, {have:,} handsets in "
                  f"{time.perf_counter() - began:.0f} s ({folder})")
    (folder / "ready").write_text(datetime.now(UTC).isoformat())
    return folder


def copy_to_postgres(sqlite_url: str, pg_url: str) -> None:
    """Every row of the SQLite estate into a migrated PostgreSQL database, sequences
    moved past the copied ids."""
    source, target = make_engine(sqlite_url), make_engine(pg_url)
    with source.connect() as src, target.begin() as dst:
        for table in reversed(metadata.sorted_tables):  # rows the migrations seeded
            dst.execute(table.delete())
        for table in metadata.sorted_tables:
            rows = [dict(r._mapping) for r in src.execute(select(table))]
            for start in range(0, len(rows), 5000):
                dst.execute(insert(table), rows[start:start + 5000])
            for column in table.primary_key.columns:
                if column.autoincrement is True or (
                        column.autoincrement == "auto" and column.type.python_type is int):
                    dst.execute(text(
                        f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', "
                        f"'{column.name}'), coalesce(max(\"{column.name}\"), 0) + 1, false) "
                        f"FROM \"{table.name}\""))


def pg_binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if not versions:
        sys.exit(f"{name} not found: install the Debian package postgresql-client")
    return str(versions[-1])


def libpq_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def prepare_postgres(folder: Path, source_url: str, admin_url: str, report: list[str]) -> str:
    """A fresh database holding the estate at the current schema: restored from the
    cached dump, or copied from the (upgraded) SQLite estate and the dump cached."""
    name = f"mobilise_bench_{os.getpid()}"
    admin = make_engine(admin_url)
    with admin.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(
            text(f'CREATE DATABASE "{name}"'))
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    dump = folder / "demo.pgdump"
    began = time.perf_counter()
    if dump.exists():
        subprocess.run([pg_binary("pg_restore"), "--no-owner", "-d", libpq_url(url),
                        str(dump)], check=True)
        upgrade_schema(Settings(database_url=url))
        with make_engine(url).connect() as conn:  # a restore brings no planner statistics
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
        report.append(f"restored the PostgreSQL estate in {time.perf_counter() - began:.0f} s")
    else:
        upgrade_schema(Settings(database_url=url))
        copy_to_postgres(source_url, url)
        with make_engine(url).connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
        subprocess.run([pg_binary("pg_dump"), "-Fc", "-f", str(dump), libpq_url(url)],
                       check=True)
        report.append(f"copied the estate into PostgreSQL in {time.perf_counter() - began:.0f} s")
    make_engine(url).dispose()
    return url


def drop_postgres(admin_url: str, url: str) -> None:
    make_engine(url).dispose()
    with make_engine(admin_url).connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(
            text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))


def bench_login(settings: Settings) -> str:
    """An admin login and API token for the clients (replaced on every run)."""
    with session_scope(settings) as s:
        user = s.scalar(select(auth.User).where(auth.User.username == BENCH_USER))
        if user is None:
            user = auth.add_user(s, ACTOR, BENCH_USER, BENCH_PASSWORD, ["admin"])
            s.flush()
        return auth.issue_token(s, ACTOR, user, "bench")


# --------------------------------------------------------------------------- the routes


def routes(settings: Settings) -> list[tuple[str, str]]:
    """(label, path): the pages staff open most and the API behind them, with real keys."""
    with session_scope(settings) as s:
        person = s.scalar(select(Person.number).order_by(Person.id).offset(1000).limit(1))
        surname = s.scalar(select(Person.last_name).order_by(Person.id).offset(2000).limit(1))
        imei = s.scalar(select(Handset.imei).where(Handset.holder_id.is_not(None))
                        .order_by(Handset.id).limit(1)) or s.scalar(select(Handset.imei))
    today = date.today().isoformat()
    pages = [("page /", "/"), ("page /people", "/people"),
             ("page /people?q=", f"/people?q={surname}"), ("page /people/{n}", f"/people/{person}"),
             ("page /handsets", "/handsets"), ("page /handsets/{imei}", f"/handsets/{imei}"),
             ("page /handover?q=", f"/handover?q={surname}"),
             ("page /rollout", f"/rollout?as_of={today}"), ("page /waves", "/waves"),
             ("page /migration/progress", "/migration/progress"), ("page /drives", "/drives"),
             ("page /retention", "/retention"), ("page /finance", "/finance"),
             ("page /jobs", "/jobs")]
    api = [("api /people", "/api/v1/people?limit=50"),
           ("api /people?q=", f"/api/v1/people?q={surname}&limit=50"),
           ("api /people/{n}", f"/api/v1/people/{person}"),
           ("api /handsets", "/api/v1/handsets?limit=50"),
           ("api /handsets/{imei}", f"/api/v1/handsets/{imei}"),
           ("api /handsets/capacity", "/api/v1/handsets/capacity"),
           ("api /waves", "/api/v1/waves"), ("api /migration/burndown",
                                             "/api/v1/migration/burndown"),
           ("api /me", "/api/v1/me")]
    return pages + api


def handover_pairs(settings: Settings, count: int) -> list[tuple[str, str]]:
    """(IMEI, person number) for ``count`` hand-overs the register will accept: handsets
    in stock with a SIM fitted, and active, eligible people who hold none."""
    if count <= 0:
        return []
    with session_scope(settings) as s:
        imeis = s.scalars(select(Handset.imei).where(Handset.status == "in_stock",
                                                     Handset.sim_id.is_not(None))
                          .order_by(Handset.id).limit(count)).all()
        holders = select(Handset.holder_id).where(Handset.holder_id.is_not(None))
        people = s.scalars(select(Person.number).where(
            Person.status == "active", Person.eligible.is_(True), Person.id.not_in(holders))
            .order_by(Person.id).limit(count)).all()
    return list(zip(imeis, people, strict=False))


# --------------------------------------------------------------------------- the load


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)

    def add(self, label: str, seconds: float, status: int) -> None:
        self.latencies.setdefault(label, []).append(seconds * 1000)
        if status != 200:
            self.errors.setdefault(label, []).append(str(status))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


async def client(n: int, base: str, cookies: dict[str, str], token: str,
                 plan: list[tuple[str, str]], until: float, think: float,
                 results: Results) -> None:
    rng = random.Random(n)
    async with httpx.AsyncClient(base_url=base, cookies=cookies, timeout=60,
                                 headers={"Authorization": f"Bearer {token}"}) as http:
        # A person's browser is connected already, and 50 people do not all click in the
        # same millisecond: open the connection first and start at a random moment of
        # the first pause, both outside the measurement.
        await http.get("/healthz")
        if think:
            await asyncio.sleep(rng.uniform(0, think))
        i = n
        while time.monotonic() < until:
            label, path = plan[i % len(plan)]
            i += 1
            # Pages ride on the session cookie, the API on the token, as in real use.
            headers = {"Authorization": ""} if label.startswith("page") else {}
            began = time.perf_counter()
            response = await http.get(path, headers=headers)
            await response.aread()
            results.add(label, time.perf_counter() - began, response.status_code)
            if think:
                await asyncio.sleep(rng.uniform(0.5 * think, 1.5 * think))


WRITE_LABEL = "write: hand-over (API)"


async def writer(base: str, token: str, pairs: list[tuple[str, str]], per_minute: float,
                 until: float, results: Results) -> None:
    """Hand-overs at an even pace, as a service desk records them: each is audited, so
    each moves the audit head and the pages' cached aggregates must be computed again."""
    async with httpx.AsyncClient(base_url=base, timeout=60,
                                 headers={"Authorization": f"Bearer {token}"}) as http:
        for imei, number in pairs:
            if time.monotonic() >= until:
                break
            began = time.perf_counter()
            response = await http.post(f"/api/v1/handsets/{imei}/issue",
                                       json={"person": number, "method": "signature"})
            results.add(WRITE_LABEL, time.perf_counter() - began, response.status_code)
            await asyncio.sleep(max(0.0, 60 / per_minute - (time.perf_counter() - began)))


async def run_load(base: str, cookies: dict[str, str], token: str,
                   plan: list[tuple[str, str]], clients: int, seconds: float,
                   think: float, pairs: list[tuple[str, str]] | None = None,
                   per_minute: float = 0) -> Results:
    results = Results()
    until = time.monotonic() + seconds
    work = [client(n, base, cookies, token, plan, until, think, results)
            for n in range(clients)]
    if pairs and per_minute > 0:
        work.append(writer(base, token, pairs, per_minute, until, results))
    await asyncio.gather(*work)
    return results


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(settings: Settings, folder: Path, workers: int
          ) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOBILISE_")}
    env.update({"MOBILISE_DATABASE_URL": settings.database_url,
                "MOBILISE_DATA_DIR": str(settings.data_dir),
                "MOBILISE_HOME_ROOT": str(settings.home_root),
                "MOBILISE_CONFIG": str(folder / "none.toml")})
    server = subprocess.Popen([sys.executable, "-m", "mobilise.cli.main", "serve", "--port",
                               str(port), "--workers", str(workers)], env=env,
                              stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                return server, base
        except httpx.TransportError:
            time.sleep(0.2)
    server.kill()
    sys.exit("the server did not start")


def sign_in(base: str) -> dict[str, str]:
    with httpx.Client(base_url=base, timeout=60) as http:
        page = http.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf, "no CSRF token on the sign-in page"
        done = http.post("/login", data={"username": BENCH_USER, "password": BENCH_PASSWORD,
                                         "csrf_token": csrf.group(1), "next": "/"})
        assert done.status_code == 303, (done.status_code, done.text[:300])
        return dict(http.cookies)


def table(results: Results, plan: list[tuple[str, str]]) -> tuple[list[str], float]:
    lines = [f"{'route':32} {'n':>5} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}  errors"]
    worst = 0.0
    everything: list[float] = []
    for label, _ in plan:
        values = results.latencies.get(label, [])
        if not values:
            continue
        everything += values
        p99 = percentile(values, 99)
        worst = max(worst, p99)
        errors = results.errors.get(label, [])
        lines.append(f"{label:32} {len(values):5d} {percentile(values, 50):7.1f} "
                     f"{percentile(values, 95):7.1f} {p99:7.1f} {max(values):7.1f}  "
                     f"{len(errors)}{' (' + ','.join(sorted(set(errors))) + ')' if errors else ''}")
    if everything:
        lines.append(f"{'all routes':32} {len(everything):5d} {percentile(everything, 50):7.1f} "
                     f"{percentile(everything, 95):7.1f} {percentile(everything, 99):7.1f} "
                     f"{max(everything):7.1f}")
    return lines, worst


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} CPUs"


def measure(settings: Settings, folder: Path, args: argparse.Namespace, name: str) -> bool:
    token = bench_login(settings)
    plan = routes(settings)
    server, base = serve(settings, folder, args.workers)
    try:
        cookies = sign_in(base)
        for _, path in plan * (2 * args.workers):  # warm up every process, not counted
            headers = {"Authorization": f"Bearer {token}"} if path.startswith("/api") else {}
            answer = httpx.get(base + path, cookies=cookies, headers=headers, timeout=120)
            assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
        anchor = asyncio.run(run_load(base, cookies, token, [("anchor /healthz", "/healthz")],
                                      args.clients, min(10.0, args.seconds), args.think))
        print(f"\n{name}: {args.clients} clients, think {args.think} s, {args.seconds:.0f} s, "
              f"{args.workers} server process(es); "
              f"{load_average()} before")
        pairs = handover_pairs(settings, int(args.handovers * args.seconds / 60) + 1)
        if args.handovers:
            print(f"and {args.handovers:g} hand-overs a minute through the API "
                  f"({len(pairs)} prepared)")
        began = time.perf_counter()
        results = asyncio.run(run_load(base, cookies, token, plan, args.clients, args.seconds,
                                       args.think, pairs, args.handovers))
        elapsed = time.perf_counter() - began
        shown = plan + ([(WRITE_LABEL, "")] if args.handovers else [])
        lines, worst = table(results, shown)
        anchor_lines, _ = table(anchor, [("anchor /healthz", "/healthz")])
        print("\n".join([anchor_lines[0], anchor_lines[1], *lines[1:]]))
        total = sum(len(v) for v in results.latencies.values())
        print(f"{total / elapsed:.1f} requests/s; worst route p99 {worst:.1f} ms "
              f"(target < {TARGET_P99_MS:.0f} ms: {'met' if worst < TARGET_P99_MS else 'NOT met'}"
              f"); {load_average()} after")
        if args.json:
            Path(args.json).with_suffix(f".{name}.json").write_text(json.dumps({
                "latencies_ms": results.latencies, "errors": results.errors}))
        return worst < TARGET_P99_MS
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=45_000)
    parser.add_argument("--handsets", type=int, default=40_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=1, help="mobilise serve --workers")
    parser.add_argument("--think", type=float, default=1.0, help="mean pause between requests")
    parser.add_argument("--handovers", type=float, default=0.0,
                        help="hand-overs a minute recorded through the API during the load")
    parser.add_argument("--pg-url", help="PostgreSQL admin URL: also run on PostgreSQL")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--rebuild", action="store_true", help="build the cached estate again")
    parser.add_argument("--json", help="write raw latencies to FILE.<backend>.json")
    args = parser.parse_args()

    notes: list[str] = []
    if args.rebuild:
        shutil.rmtree(cache_dir(args.people, args.handsets), ignore_errors=True)
    folder = build_sqlite(args.people, args.handsets, notes)
    print("\n".join(notes) or f"cached estate: {folder}")
    if args.build_only:
        return
    ok = True
    with tempfile.TemporaryDirectory(prefix="mobilise-bench-") as tmp:
        # A copy, brought to the current schema: the cache stays as built.
        shutil.copy(folder / "demo.db", Path(tmp) / "demo.db")
        settings = demo_settings(f"sqlite:///{Path(tmp) / 'demo.db'}", folder)
        upgrade_schema(settings)
        if not args.no_sqlite:
            ok &= measure(settings, folder, args, "sqlite")
        if args.pg_url:
            notes = []
            url = prepare_postgres(folder, settings.database_url, args.pg_url, notes)
            print("\n".join(notes))
            try:
                ok &= measure(demo_settings(url, folder), folder, args, "postgresql")
            finally:
                drop_postgres(args.pg_url, url)
        make_engine(settings.database_url).dispose()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
