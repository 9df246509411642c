"""``mobilise worker``: a Celery worker for background work (migrations, scans, ...)."""

from __future__ import annotations

import typer

from mobilise.cli.context import settings


def register(app: typer.Typer) -> None:
    @app.command()
    def worker(
        concurrency: int = typer.Option(1, help="worker processes"),
        pool: str = typer.Option("prefork", help="prefork, solo or threads"),
        queues: str = typer.Option("celery", help="comma-separated queues to consume"),
    ) -> None:
        """Run a Celery worker (Redis broker from MOBILISE_BROKER_URL)."""
        from mobilise.workers.celery_app import make_celery

        app_ = make_celery(settings())
        app_.worker_main(["worker", f"--concurrency={concurrency}", f"--pool={pool}",
                          f"--queues={queues}", "--loglevel=INFO", "--without-gossip",
                          "--without-mingle", "--without-heartbeat"])
