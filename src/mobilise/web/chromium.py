"""Headless Chromium: print an HTML document to PDF, or dump the DOM it built.

The board report is printed by the same browser engine the pages are tested in, so the
PDF shows exactly the SVG charts the web page shows. Chromium runs as a child process
with its own temporary profile and a timeout; a failure is an ``ExternalServiceError``
carrying Chromium's own message.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from mobilise.core.errors import ExternalServiceError
from mobilise.core.settings import Settings

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--no-first-run", "--no-default-browser-check", "--disable-extensions",
         "--run-all-compositor-stages-before-draw")


def _binary(settings: Settings) -> str:
    found = shutil.which(settings.chromium)
    if found is None:
        raise ExternalServiceError(
            f"Chromium not found as {settings.chromium!r}: install the Debian package "
            "'chromium' or set MOBILISE_CHROMIUM to its path")
    return found


def _run(settings: Settings, html: str, extra: list[str], work: Path) -> bytes:
    page = work / "report.html"
    page.write_text(html, encoding="utf-8")
    command = [_binary(settings), *FLAGS, f"--user-data-dir={work / 'profile'}", *extra,
               page.as_uri()]
    try:
        done = subprocess.run(command, capture_output=True, check=False,
                              timeout=settings.chromium_timeout_seconds)
    except subprocess.TimeoutExpired:
        raise ExternalServiceError(
            f"Chromium did not finish within {settings.chromium_timeout_seconds}s") from None
    if done.returncode != 0:
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        raise ExternalServiceError(f"Chromium failed ({done.returncode}): {' | '.join(tail)}")
    return done.stdout


def print_pdf(settings: Settings, html: str, out: Path) -> Path:
    """Write ``html`` as an A4 PDF to ``out``."""
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mobilise-chromium-") as tmp:
        _run(settings, html, [f"--print-to-pdf={out}", "--no-pdf-header-footer"], Path(tmp))
    if not out.exists() or not out.read_bytes().startswith(b"%PDF"):
        raise ExternalServiceError(f"Chromium wrote no PDF to {out}")
    return out


def dump_dom(settings: Settings, html: str) -> str:
    """The DOM Chromium built from ``html`` after loading it, serialised."""
    with tempfile.TemporaryDirectory(prefix="mobilise-chromium-") as tmp:
        return _run(settings, html, ["--dump-dom"], Path(tmp)).decode("utf-8", "replace")
