"""The end-to-end demo: generate a force, load it, and create an admin login.
Each capability adds its step to ``STEPS``.

Everything the demo writes goes under its folder (``--dir``): the SQLite database, the
generated H: drives, the emulators' stores, journals and inventories, and the admin
password (``admin-password``, readable by its owner only). A folder that holds a finished
demo is served as it is; ``rebuild_demo`` clears it for a fresh one."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import select

from mobilise.core import auth
from mobilise.core.actor import Actor
from mobilise.core.db import session_scope
from mobilise.core.errors import InvalidInput
from mobilise.core.settings import MIN_SECRET_LENGTH, Settings, secret_problem
from mobilise.core.words import counts_text
from mobilise.demo.after import after_cutover_step
from mobilise.demo.devices import load_devices
from mobilise.demo.drives import drives_step
from mobilise.demo.finance import load_finance
from mobilise.demo.intune import intune_step
from mobilise.demo.migration import migrate_demo_wave
from mobilise.demo.people import generate_roster, on_demo_share
from mobilise.demo.retention import retention_step
from mobilise.demo.rollout import rollout_step
from mobilise.people import roster
from mobilise.schema import upgrade_schema

DEMO_ACTOR = Actor("demo")
PASSWORD_FILE = "admin-password"
# Written first: a folder with it was made by the demo, so a rebuild may clear it.
MARKER_FILE = ".mobilise-demo"


@dataclass
class DemoResult:
    people: int
    admin_password: str
    notes: list[str] = field(default_factory=list)
    built: bool = True   # False: an existing demo, served as it was


def demo_settings(settings: Settings, out_dir: Path) -> Settings:
    """``settings`` with everything the demo writes under ``out_dir``: its database
    (SQLite there, unless a server database is configured), data, H: drives, archive and
    local destination. The demo's register holds the fleet issued before the rollout, so
    that is not counted twice (``rollout_managed_before`` 0)."""
    root = out_dir.resolve()
    update: dict[str, object] = {
        "data_dir": root, "home_root": root / "home", "archive_root": root / "archive",
        "migration_destination_root": root / "onedrive", "rollout_managed_before": 0,
        "home_unc_root": on_demo_share(settings).home_unc_root,
    }
    if settings.database_url.startswith("sqlite"):
        update["database_url"] = f"sqlite:///{root / 'mobilise.db'}"
    if secret_problem(settings) is not None:
        # A secret the operator set, or the demo's own random one: never the published
        # default (which signs a cookie anyone can forge).
        update["secret_key"] = SecretStr(demo_secret(root))
    return settings.model_copy(update=update)


def load_people(settings: Settings, out_dir: Path, people: int, seed: int) -> str:
    files = generate_roster(out_dir / "roster.csv", people=people, seed=seed,
                            domain=settings.email_domain)
    with session_scope(settings) as s:
        roster.import_units(s, DEMO_ACTOR, files.units)
        roster.import_sites(s, DEMO_ACTOR, files.sites)
    with session_scope(settings) as s:
        diff = roster.import_roster(s, DEMO_ACTOR, files.roster)
    return f"People: {counts_text(diff.summary())} from the generated roster ({files.roster})"


def ensure_admin(settings: Settings, out_dir: Path) -> str:
    """A new password for the demo's ``admin`` login, kept in ``out_dir`` (mode 0600)."""
    password = secrets.token_urlsafe(12)
    with session_scope(settings) as s:
        user = s.scalar(select(auth.User).where(auth.User.username == "admin"))
        if user is None:
            auth.add_user(s, DEMO_ACTOR, "admin", password, ["admin"], "Demo administrator")
        else:
            auth.set_password(s, DEMO_ACTOR, user, password)
    path = out_dir / PASSWORD_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(password + "\n")
    path.chmod(0o600)  # an older file keeps its mode through O_CREAT
    return password


def demo_secret(out_dir: Path) -> str:
    """The demo's session secret: random, made on the first run and kept in the demo's
    folder (readable by its owner only), so sign-ins survive a restart of the demo."""
    path = out_dir / "secret_key"
    if path.exists():
        secret = path.read_text().strip()
        if len(secret) >= MIN_SECRET_LENGTH:
            return secret
    out_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    # Created owner-only, never world-readable even for a moment.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secret + "\n")
    return secret


def existing_password(out_dir: Path) -> str | None:
    """The admin password of a finished demo in ``out_dir`` (written by its last step)."""
    path = out_dir / PASSWORD_FILE
    if not path.is_file():
        return None
    return path.read_text(encoding="utf-8").strip() or None


def rebuild_demo(settings: Settings, out_dir: Path) -> None:
    """Clear ``out_dir`` for a new demo: only a folder the demo made (or an empty one)."""
    if not out_dir.exists():
        return
    if not (out_dir / MARKER_FILE).exists() and any(out_dir.iterdir()):
        raise InvalidInput(f"{out_dir} was not made by the demo (no {MARKER_FILE} in it); "
                           "choose another --dir, or empty it yourself")
    if not settings.database_url.startswith("sqlite"):
        raise InvalidInput("--rebuild clears the demo's SQLite database; with a server "
                           "database configured, drop and create it yourself first")
    shutil.rmtree(out_dir)


Step = Callable[[Settings, Path, int, int], str]
# One step per line, in order: later capabilities add theirs.
STEPS: list[Step] = [
    load_people,
    load_devices,
    intune_step,
    drives_step,
    retention_step,
    rollout_step,
    load_finance,
    migrate_demo_wave,
    after_cutover_step,
]


def run_demo(settings: Settings, out_dir: Path, people: int = 2000, seed: int = 1322,
             report: Callable[[str], None] = print) -> DemoResult:
    """Build the demo in ``out_dir`` with ``settings`` (see ``demo_settings``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MARKER_FILE).touch()
    # Every step reads the roster's home paths on the same share (one place says where).
    settings = on_demo_share(settings)
    report(f"Database schema at revision {upgrade_schema(settings)}")
    notes = []
    for step in STEPS:
        note = step(settings, out_dir, people, seed)
        notes.append(note)
        report(note)
    return DemoResult(people=people, admin_password=ensure_admin(settings, out_dir),
                      notes=notes)
