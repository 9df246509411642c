"""``mobilise demo``: a synthetic force, loaded and served."""

from __future__ import annotations

from pathlib import Path

import typer

from mobilise.cli.context import console, settings
from mobilise.demo.people import generate_roster

app = typer.Typer(help="Generate demo data, or run the whole demo (mobilise demo).")


def say(line: str) -> None:
    console.print(line, highlight=False)


@app.callback(invoke_without_command=True)
def demo(
    ctx: typer.Context,
    people: int = typer.Option(2000, min=1, max=200_000, help="people in the force"),
    seed: int = typer.Option(1322, help="random seed"),
    out_dir: Path = typer.Option(Path("demo-data"), "--dir",
                                 help="where everything the demo writes goes"),
    rebuild: bool = typer.Option(False, "--rebuild",
                                 help="build the demo again, even if --dir holds one"),
    serve: bool = typer.Option(True, help="serve the dashboard afterwards"),
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8000),
) -> None:
    """Generate a force, load it, create an admin login and serve the dashboard (with
    the Graph emulator). A folder holding a finished demo is served as it is."""
    if ctx.invoked_subcommand:
        return
    from mobilise.demo.run import demo_settings, existing_password, rebuild_demo, run_demo
    from mobilise.demo.serving import (
        emulator_running,
        emulator_settings,
        next_steps,
        write_config,
    )

    configured = demo_settings(settings(), out_dir)
    if rebuild:
        rebuild_demo(configured, out_dir)
        configured = demo_settings(settings(), out_dir)  # its own secret, made anew
    password = existing_password(out_dir)
    if password is None:
        password = run_demo(configured, out_dir, people=people, seed=seed,
                            report=say).admin_password
    else:
        say(f"The demo in {out_dir}/ is built already: using it as it is "
            "(--rebuild makes a new one).")
    say(f"[bold]Admin login:[/] admin / {password}")
    if not serve:
        config, written = write_config(emulator_settings(configured, out_dir), out_dir)
        for line in next_steps(out_dir, config, written, served_at=None):
            say(line)
        return
    import uvicorn

    from mobilise.web.app import create_app

    with emulator_running(configured, out_dir) as served:
        config, written = write_config(served, out_dir)
        for line in next_steps(out_dir, config, written, served_at=f"http://{host}:{port}/"):
            say(line)
        uvicorn.run(create_app(served), host=host, port=port, log_level="warning")


@app.command("generate")
def generate(
    people: int = typer.Option(2000, min=1, max=200_000),
    seed: int = typer.Option(1322),
    out: Path = typer.Option(Path("roster.csv"), help="roster file; units and sites beside it"),
) -> None:
    """Write a synthetic roster (plus org_units.csv and sites.csv beside it)."""
    files = generate_roster(out, people=people, seed=seed, domain=settings().email_domain)
    console.print(f"wrote {files.roster} ({people} people), {files.units}, {files.sites}")
