"""Serving a built demo: everything its pages can start runs with the web server (the
Graph emulator that the demo's migration wave and Intune tenant live in), and the CLI
is pointed at the demo through a ``mobilise.toml`` the settings loader picks up."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import SecretStr

from mobilise.core.settings import Settings

# The first line of a mobilise.toml the demo wrote: such a file may be written again.
TOML_MARK = "# Written by the Mobilise demo"
# The emulator's usual port (the settings' default Graph address): taken when free.
EMULATOR_PORT = 8443


def config_path() -> Path:
    """Where the settings loader looks for its file (``MOBILISE_CONFIG``, default
    ``./mobilise.toml``), as ``core.settings`` reads it."""
    return Path(os.environ.get("MOBILISE_CONFIG", "mobilise.toml"))


def emulator_port() -> int:
    from mobilise.emulator.server import free_port

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", EMULATOR_PORT))
        except OSError:
            return free_port()
    return EMULATOR_PORT


def graph_settings(url: str, tenant: str, ca: Path) -> dict[str, object]:
    from mobilise.emulator.server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

    return {"graph_url": f"{url}/v1.0", "graph_authority": f"{url}/{tenant}",
            "graph_tenant_id": tenant, "graph_client_id": DEFAULT_CLIENT_ID,
            "graph_client_secret": SecretStr(DEFAULT_CLIENT_SECRET), "graph_ca_bundle": ca,
            "graph_resource_units_per_minute": 600_000}


def emulator_root(out_dir: Path) -> Path:
    """The emulator store holding the demo wave's OneDrives (demo.migration uses it)."""
    return out_dir.resolve() / "emulator"


def emulator_settings(settings: Settings, out_dir: Path, port: int = EMULATOR_PORT) -> Settings:
    """``settings`` pointing at the demo's emulator on ``port`` (where `script/demo`
    serves it), whatever an older mobilise.toml said."""
    from mobilise.emulator.server import DEFAULT_TENANT

    return settings.model_copy(update=graph_settings(
        f"https://127.0.0.1:{port}", DEFAULT_TENANT, emulator_root(out_dir) / "tls" / "ca.pem"))


@contextmanager
def emulator_running(settings: Settings, out_dir: Path) -> Iterator[Settings]:
    """The demo's Graph emulator, started for as long as the block runs; yields the
    settings that point at it."""
    from mobilise.emulator.server import DEFAULT_TENANT, EmulatorProcess

    emulator = EmulatorProcess(emulator_root(out_dir), port=emulator_port()).start()
    try:
        yield settings.model_copy(update=graph_settings(emulator.url, DEFAULT_TENANT,
                                                        emulator.ca))
    finally:
        emulator.stop()


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


CONFIG_KEYS = ("database_url", "data_dir", "home_root", "home_unc_root", "archive_root",
               "migration_destination_root", "rollout_managed_before", "graph_url",
               "graph_authority", "graph_tenant_id", "graph_client_id", "graph_ca_bundle",
               "graph_resource_units_per_minute")


def config_text(settings: Settings, out_dir: Path) -> str:
    lines = [f"{TOML_MARK} ({out_dir.resolve()}): the CLI reads it when run from this",
             "# folder. Delete it (or set MOBILISE_CONFIG) to use settings of your own.",
             "# The Graph emulator is served by `script/demo` while it runs.", ""]
    for key in CONFIG_KEYS:
        value = getattr(settings, key)
        if value is not None:
            lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def write_config(settings: Settings, out_dir: Path) -> tuple[Path, bool]:
    """Write the demo's settings to ``out_dir/mobilise.toml`` and to the file the loader
    picks up (unless that file is someone's own). Returns the loader's path and whether
    it now points at the demo."""
    text = config_text(settings, out_dir)
    (out_dir / "mobilise.toml").write_text(text, encoding="utf-8")
    target = config_path()
    if target.exists() and not target.read_text(encoding="utf-8").startswith(TOML_MARK):
        return target, False
    target.write_text(text, encoding="utf-8")
    return target, True


def next_steps(out_dir: Path, config: Path, written: bool, *, served_at: str | None) -> list[str]:
    """Where things are, and what to do next, in words."""
    venv = Path(".venv/bin/mobilise")
    run = str(venv) if venv.exists() else "mobilise"
    lines = [f"The demo lives in {out_dir}/ (database, H: drives, emulator, journals); "
             f"the admin password is in {out_dir / 'admin-password'}."]
    if written:
        lines.append(f"{config} points the mobilise command at it.")
    else:
        lines.append(f"{config} is your own, so it was left alone: to use the demo, "
                     f"export MOBILISE_CONFIG={out_dir / 'mobilise.toml'}")
    lines += [
        f"Run the CLI as {run} (or `source .venv/bin/activate`, then `mobilise`):",
        f"  {run} people list --format table     the people register",
        f"  {run} migrate --help                  waves, rounds and cutover",
        f"  {run} audit verify                    check the audit chain",
    ]
    if served_at:
        lines.append(f"Dashboard: {served_at} (Ctrl-C stops it and the Graph emulator).")
    else:
        lines.append("Serve it again: script/demo (it serves an existing demo as it is; "
                     "--rebuild makes a new one).")
    return lines
