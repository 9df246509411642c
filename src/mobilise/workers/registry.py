"""Named tasks. Domain packages register their background work here by name, so both
executors (and a Celery worker on another machine) find it the same way."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from mobilise.core.errors import InvalidInput
from mobilise.core.settings import Settings

Payload = dict[str, Any]
TaskFunction = Callable[[Settings, Payload], Payload]

# Modules whose import registers tasks; a worker imports them all at start.
TASK_MODULES = ("mobilise.migration.tasks", "mobilise.devices.tasks")

_TASKS: dict[str, TaskFunction] = {}


def task(name: str) -> Callable[[TaskFunction], TaskFunction]:
    def register(function: TaskFunction) -> TaskFunction:
        _TASKS[name] = function
        return function

    return register


def load_tasks() -> None:
    # A worker process uses the database: every model mapped before its first flush.
    importlib.import_module("mobilise.models")
    for module in TASK_MODULES:
        importlib.import_module(module)


def run_task(settings: Settings, name: str, payload: Payload) -> Payload:
    if name not in _TASKS:
        load_tasks()
    try:
        function = _TASKS[name]
    except KeyError:
        raise InvalidInput(f"no task named {name!r}; known: {', '.join(sorted(_TASKS))}") \
            from None
    return function(settings, payload)
