"""``mobilise demo``: a synthetic force, loaded and served."""

from __future__ import annotations

from pathlib import Path

import typer

from mobilise.cli.context import console, settings
from mobilise.demo.people import generate_roster

app = typer.Typer(help="Generate demo data, or run the whole demo (mobilise demo).")


@app.callback(invoke_without_command=True)
def demo(
    ctx: typer.Context,
    people: int = typer.Option(2000, min=1, max=200_000, help="people in the force"),
    seed: int = typer.Option(1322, help="random seed"),
    out_dir: Path = typer.Option(Path("demo-data"), "--dir", help="where demo files go"),
    serve: bool = typer.Option(True, help="serve the dashboard afterwards"),
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8000),
) -> None:
    """Generate a force, load it, create an admin login and serve the dashboard."""
    if ctx.invoked_subcommand:
        return
    from pydantic import SecretStr

    from mobilise.core.settings import secret_problem
    from mobilise.demo.run import demo_secret, run_demo

    result = run_demo(settings(), out_dir, people=people, seed=seed,
                      report=lambda line: console.print(line, highlight=False))
    console.print(f"[bold]admin login:[/] admin / {result.admin_password}")
    if serve:
        import uvicorn

        from mobilise.web.app import create_app

        console.print(f"Mobilise demo on http://{host}:{port}/  (Ctrl-C to stop)")
        # The demo's register holds the fleet issued before the rollout: not counted twice.
        # A secret the operator set, or the demo's own random one: never the published
        # default.
        secret = (settings().secret_key if secret_problem(settings()) is None
                  else SecretStr(demo_secret(out_dir)))
        served = settings().model_copy(update={"rollout_managed_before": 0,
                                               "secret_key": secret})
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
