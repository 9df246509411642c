"""The end-to-end demo: generate a force, load it, and create an admin login.
Each capability adds its step to ``STEPS``."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from mobilise.core import auth
from mobilise.core.actor import Actor
from mobilise.core.db import session_scope
from mobilise.core.settings import MIN_SECRET_LENGTH, Settings
from mobilise.demo.devices import load_devices
from mobilise.demo.drives import drives_step
from mobilise.demo.finance import load_finance
from mobilise.demo.intune import intune_step
from mobilise.demo.migration import migrate_demo_wave
from mobilise.demo.people import generate_roster
from mobilise.demo.retention import retention_step
from mobilise.demo.rollout import rollout_step
from mobilise.people import roster
from mobilise.schema import upgrade_schema

DEMO_ACTOR = Actor("demo")


@dataclass
class DemoResult:
    people: int
    admin_password: str
    notes: list[str] = field(default_factory=list)


def load_people(settings: Settings, out_dir: Path, people: int, seed: int) -> str:
    files = generate_roster(out_dir / "roster.csv", people=people, seed=seed,
                            domain=settings.email_domain)
    with session_scope(settings) as s:
        roster.import_units(s, DEMO_ACTOR, files.units)
        roster.import_sites(s, DEMO_ACTOR, files.sites)
    with session_scope(settings) as s:
        diff = roster.import_roster(s, DEMO_ACTOR, files.roster)
    return f"people: {diff.summary()}"


def ensure_admin(settings: Settings) -> str:
    password = secrets.token_urlsafe(12)
    with session_scope(settings) as s:
        user = s.scalar(select(auth.User).where(auth.User.username == "admin"))
        if user is None:
            auth.add_user(s, DEMO_ACTOR, "admin", password, ["admin"], "Demo administrator")
        else:
            auth.set_password(s, DEMO_ACTOR, user, password)
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
]


def run_demo(settings: Settings, out_dir: Path, people: int = 2000, seed: int = 1322,
             report: Callable[[str], None] = print) -> DemoResult:
    out_dir.mkdir(parents=True, exist_ok=True)
    report(f"schema at {upgrade_schema(settings)}")
    notes = []
    for step in STEPS:
        note = step(settings, out_dir, people, seed)
        notes.append(note)
        report(note)
    return DemoResult(people=people, admin_password=ensure_admin(settings), notes=notes)
