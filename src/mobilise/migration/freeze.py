"""The freeze hook: the organisation's own command that makes a person's H: drive
read-only before their cutover's final delta round (an Isilon ACL change, a share
permission script), configured as ``migration_freeze_hook``.

It runs once per person with the person named in its environment, with no shell (the
setting is split like a command line), in a session of its own so that a timeout ends it
and everything it started. Exit status 0 means frozen; anything else, a timeout, or a
command that cannot start means not frozen, with the reason, and that person is not cut
over.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

# Enough of the hook's output to say why it failed, not a log file's worth.
OUTPUT_KEPT = 2000


@dataclass(frozen=True)
class HookRun:
    command: str
    frozen: bool
    reason: str | None  # why the source is not frozen
    status: int | None  # exit status, None when it did not finish or start
    seconds: float
    output: str  # the tail of stdout and stderr together

    def audit_data(self) -> dict[str, Any]:
        return {"command": self.command, "frozen": self.frozen, "status": self.status,
                "seconds": round(self.seconds, 3), "output": self.output}


def hook_environment(*, person: str, wave: str, upn: str, source: str,
                     sam: str | None) -> dict[str, str]:
    return {"MOBILISE_PERSON": person, "MOBILISE_WAVE": wave, "MOBILISE_UPN": upn,
            "MOBILISE_SOURCE": source, "MOBILISE_SAM_ACCOUNT": sam or ""}


def run_freeze_hook(command: str, variables: dict[str, str], timeout: float) -> HookRun:
    """Run the hook for one person and say whether their source is frozen."""
    return run_hook(command, variables, timeout, "freeze hook")


def run_hook(command: str, variables: dict[str, str], timeout: float, what: str) -> HookRun:
    """Run an operator hook (``what`` names it in the reasons) for one person: ``frozen``
    (done) only when it exited with status 0. The after-cutover steps (read-only, the
    drive mapping's removal) run through this as the freeze does."""
    started = time.monotonic()
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        return HookRun(command, False, f"{what} is not a valid command line: {exc}",
                       None, 0.0, "")
    if not argv:
        return HookRun(command, False, f"{what} is empty", None, 0.0, "")
    try:
        process = subprocess.Popen(argv, env={**os.environ, **variables},
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    except OSError as exc:
        return HookRun(command, False, f"{what} could not start: {exc}", None,
                       time.monotonic() - started, "")
    try:
        raw, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _end_session(process)
        raw, _ = process.communicate()
        return HookRun(command, False, f"{what} did not finish within {timeout:g} s",
                       None, time.monotonic() - started, _tail(raw))
    output = _tail(raw)
    seconds = time.monotonic() - started
    if process.returncode != 0:
        last = output.strip().splitlines()[-1] if output.strip() else "no output"
        return HookRun(command, False,
                       f"{what} exited with status {process.returncode}: {last}",
                       process.returncode, seconds, output)
    return HookRun(command, True, None, 0, seconds, output)


def _end_session(process: subprocess.Popen[bytes]) -> None:
    """Kill the hook and whatever it started (they share its new session's group): a
    child left holding the output pipe would keep the cutover waiting."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _tail(raw: bytes | None) -> str:
    return (raw or b"")[-OUTPUT_KEPT:].decode("utf-8", "replace")
