"""A helper process that must not outlive the process that started it.

``mobilise serve`` starts its refresher as a child process. uvicorn ends a single server
process on SIGTERM without running its cleanup, and a server can be killed outright, so
the child cannot rely on being told. It ties itself to its parent three ways:

- the parent's pid is handed down (``MOBILISE_PARENT_PID``): a child whose parent died
  before the child got as far as looking exits at once, rather than taking init (or a
  container's sub-reaper) for its parent and running forever;
- on Linux, the kernel's parent-death signal (``prctl(PR_SET_PDEATHSIG)``) delivers
  SIGTERM the moment the parent goes;
- a watcher thread checks the parent every half second, for other systems, and turns a
  stop that does not finish within ``grace`` seconds into an exit.

Call ``tie_to_parent`` first thing in the child, before importing anything heavy: until
then the parent's death goes unnoticed.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Callable

PARENT_ENV = "MOBILISE_PARENT_PID"
_PR_SET_PDEATHSIG = 1


def child_environment(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a child that should die with this process."""
    return {**(os.environ if env is None else env), PARENT_ENV: str(os.getpid())}


def tie_to_parent() -> int:
    """Exit now if the parent is already gone; arrange SIGTERM when it goes. Returns the
    parent's pid."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    expected = os.environ.get(PARENT_ENV)
    parent = int(expected) if expected and expected.isdigit() else os.getppid()
    if os.getppid() != parent:  # it died before the signal was armed
        os._exit(0)
    return parent


def watch_parent(parent: int, stop: Callable[[], None], grace: float = 2.0) -> None:
    """On SIGTERM or the parent's death, call ``stop``; if the process is still here
    ``grace`` seconds later (a long query under way), exit without waiting for it."""
    gone = threading.Event()

    def _exit_soon() -> None:
        stop()
        time.sleep(grace)
        os._exit(0)

    def _on_term(*_: object) -> None:
        if not gone.is_set():
            gone.set()
            threading.Thread(target=_exit_soon, daemon=True).start()

    def _watch() -> None:
        while not gone.is_set():
            if os.getppid() != parent:
                _on_term()
                return
            time.sleep(0.5)

    signal.signal(signal.SIGTERM, _on_term)
    threading.Thread(target=_watch, name="mobilise-parent-watch", daemon=True).start()
