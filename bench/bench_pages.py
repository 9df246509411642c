"""Benchmark: how long each page of the served demo takes to answer, as a browser asks.

Run against a served demo (the admin's password from its folder):

    script/demo --no-serve --people 2000 --dir /tmp/demo2000
    script/demo --dir /tmp/demo2000 --port 8765 &
    .venv/bin/python bench/bench_pages.py http://127.0.0.1:8765 /tmp/demo2000/admin-password

Every page of the navigation, plus the pages they lead to that read the whole estate
(the retention dry run and the difference between versions), is asked twice: the first
visit warms the process (imports, templates, caches), the second is the figure. Time is
the server's: from sending the request to the last byte of the answer, on loopback. The
anchor is /login (a page that reads nothing), measured the same way.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import httpx

from mobilise.web.pages.render import NAVIGATION

# Pages one click from the navigation that evaluate the whole estate.
FURTHER = ["/retention/dry-run", "/retention/diff", "/retention/review",
           "/retention/holds", "/retention/disposal", "/sims", "/waves/1"]


def sign_in(client: httpx.Client, password: str) -> None:
    form = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None, "no CSRF token on /login"
    answer = client.post("/login", data={"csrf_token": token.group(1), "next": "/",
                                         "username": "admin", "password": password})
    assert answer.status_code == 303, answer.text[:300]


def timed(client: httpx.Client, href: str) -> tuple[int, float]:
    start = time.perf_counter()
    answer = client.get(href)
    return answer.status_code, time.perf_counter() - start


def main(url: str, password_file: str) -> None:
    password = Path(password_file).read_text().strip()
    with httpx.Client(base_url=url, timeout=120) as client:
        sign_in(client, password)
        hrefs = [href for _, href, _ in NAVIGATION] + FURTHER
        anchor = min(timed(client, "/login")[1] for _ in range(3))
        print(f"{'page':28} {'status':>6} {'first s':>8} {'again s':>8} {'x anchor':>9}")
        for href in hrefs:
            _, first = timed(client, href)
            status, again = timed(client, href)
            print(f"{href:28} {status:>6} {first:8.3f} {again:8.3f} {again / anchor:9.0f}")
        print(f"anchor /login: {anchor:.4f} s")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
