"""The one executor interface for background work (scans, migrations, Intune actions, mail).

A piece of work is a named task (registered with ``@task``) taking the settings and a
JSON-able payload and returning a JSON-able dict. Tasks must be idempotent: the Celery
executor acknowledges late, so a task whose worker dies is delivered again.

    executor = open_executor("inprocess" | "celery", settings)
    results = executor.run_all("migration.sync_shard", payloads)
"""

from mobilise.workers.executors import (
    CeleryExecutor,
    Executor,
    InProcessExecutor,
    ProcessExecutor,
    TaskResult,
    open_executor,
)
from mobilise.workers.registry import TASK_MODULES, load_tasks, run_task, task

__all__ = [
    "TASK_MODULES", "CeleryExecutor", "Executor", "InProcessExecutor", "ProcessExecutor",
    "TaskResult",
    "load_tasks", "open_executor", "run_task", "task",
]
