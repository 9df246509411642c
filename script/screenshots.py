"""The work of script/screenshots (see there): a served demo, photographed page by page."""

from __future__ import annotations

import argparse
import html
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.request import urlopen

from playwright.sync_api import Page, sync_playwright

REPO = Path(__file__).resolve().parents[1]
MOBILISE = REPO / ".venv" / "bin" / "mobilise"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update"]
# Detail pages: the first link on a list page that matches, photographed after the list.
DETAILS = [("/people", r"^/people/\d+$"), ("/handsets", r"^/handsets/[^/?#]+$"),
           ("/waves", r"^/waves/\d+$"), ("/drives", r"^/drives/people/[^/?#]+$"),
           ("/retention", r"^/retention/rule-sets/[^/]+/\d+$")]
FURTHER = ["/retention/dry-run", "/retention/diff", "/retention/explain",
           "/retention/holds", "/retention/review", "/retention/disposal",
           "/retention/drives", "/reports/board", "/users"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", type=Path, default=REPO / "demo-data")
    parser.add_argument("--out", type=Path, default=REPO / "screenshots")
    parser.add_argument("--people", type=int, default=200, help="when a demo is built")
    args = parser.parse_args()
    data = args.dir.resolve()
    env = {**os.environ, "MOBILISE_CONFIG": str(data / "mobilise.toml")}
    if not (data / "admin-password").exists():
        subprocess.run([str(MOBILISE), "demo", "--no-serve", "--dir", str(data),
                        "--people", str(args.people)], check=True, env=env)
    password = (data / "admin-password").read_text().strip()
    port = _free_port()
    server = subprocess.Popen([str(MOBILISE), "demo", "--dir", str(data), "--port", str(port)],
                              env=env, start_new_session=True, stdout=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_for(url + "/login", server)
        shots = _photograph(url, password, args.out)
    finally:
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
    _index(args.out, shots)
    print(f"{len(shots)} pages photographed: {args.out / 'index.html'}")
    return 0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the demo stopped (exit {server.returncode}) before it served")
        try:
            with urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"the demo did not answer at {url} within 120 s")


def _photograph(url: str, password: str, out: Path) -> list[tuple[str, str, str]]:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    shots: list[tuple[str, str, str]] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url + "/login")
        page.get_by_label("Username").fill("admin")
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state("networkidle")
        nav = [a.get_attribute("href") or "" for a in
               page.locator("nav[aria-label='Main'] a, header nav a").all()]
        paths = list(dict.fromkeys([p for p in nav if p.startswith("/")] + FURTHER))
        for path in paths:
            shots.append(_shot(page, url, path, out, len(shots)))
            for listing, pattern in DETAILS:
                if path == listing and (detail := _first_link(page, pattern)):
                    shots.append(_shot(page, url, detail, out, len(shots)))
        browser.close()
    return shots


def _first_link(page: Page, pattern: str) -> str | None:
    for href in page.locator("main a").evaluate_all("els => els.map(e => e.getAttribute('href'))"):
        if href and re.match(pattern, href):
            return str(href)
    return None


def _shot(page: Page, url: str, path: str, out: Path, n: int) -> tuple[str, str, str]:
    page.goto(url + path)
    page.wait_for_load_state("networkidle")
    name = f"{n:02d}-{re.sub(r'[^a-z0-9]+', '-', path.lower()).strip('-') or 'overview'}.png"
    page.screenshot(path=out / name, full_page=True)
    return path, page.title(), name


def _index(out: Path, shots: list[tuple[str, str, str]]) -> None:
    items = "\n".join(
        f'<section><h2>{html.escape(title)} <small>{html.escape(path)}</small></h2>'
        f'<a href="{name}"><img src="{name}" alt="{html.escape(title)}" width="640"></a></section>'
        for path, title, name in shots)
    (out / "index.html").write_text(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Mobilise: every "
        f"page</title><h1>Mobilise: every page</h1>{items}</html>\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
