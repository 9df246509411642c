"""The migration's background task: sync one shard of one person's drive.

The payload names everything by value (backend specs, the shard's folders, the journal's
person and round), so the task needs no database and any worker can run it, any number
of times: a repeat delivery finds the copies already there and skips them.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from mobilise.core.settings import Settings
from mobilise.migration.journal import Journal, journal_path
from mobilise.migration.sync import SyncOptions, sync_person
from mobilise.storage import open_backend
from mobilise.storage.base import Backend
from mobilise.workers.registry import task


def backend_from_spec(settings: Settings, spec: dict[str, Any] | None) -> Backend | None:
    """``{"kind": "local", "root": ...}`` builds from the values given;
    ``{"kind": "onedrive", "settings": true, "upn": ...}`` from the settings plus values."""
    if spec is None:
        return None
    options = dict(spec)
    kind = options.pop("kind")
    if options.pop("settings", False):
        return open_backend(kind, settings, **options)
    return open_backend(kind, options)


def read_plan_inputs(path: str | None) -> tuple[dict[str, str] | None, dict[str, str]]:
    """Dispositions and renames from the JSON file the dispatcher wrote (too large for a
    message): ``{"dispositions": {path: action} | null, "renames": {old: new}}``."""
    if not path:
        return None, {}
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return data.get("dispositions"), data.get("renames") or {}


@task("migration.sync_shard")
def sync_shard(settings: Settings, payload: dict[str, Any]) -> dict[str, Any]:
    source = backend_from_spec(settings, payload["source"])
    main = backend_from_spec(settings, payload["destination"])
    assert source is not None and main is not None
    archive = backend_from_spec(settings, payload.get("archive"))
    dispositions, renames = read_plan_inputs(payload.get("plan_inputs"))
    options = SyncOptions(
        concurrency=int(payload.get("concurrency", settings.migration_concurrency)),
        max_concurrency=settings.migration_max_concurrency,
        stale_partial_after=timedelta(seconds=int(payload.get("stale_partial_seconds", 1800))),
    )
    path = journal_path(settings.data_dir, payload["person"], payload["round"])
    with Journal(path) as journal:
        result = sync_person(source, main, archive=archive, dispositions=dispositions,
                             renames=renames, journal=journal, options=options,
                             under=payload.get("under") or [""])
    return {
        "person": payload["person"],
        "round": payload["round"],
        "under": payload.get("under") or [""],
        "outcomes": result.by_outcome(),
        "bytes_copied": result.bytes_copied,
        "throttle_events": result.throttle_events,
        "seconds": round(result.seconds, 3),
        "complete": result.complete,
        "failures": [
            {"path": f.path, "outcome": f.outcome.value, "reason": f.reason}
            for f in result.files if f.outcome.value in ("failed", "source_changed")
        ][:1000],
    }
