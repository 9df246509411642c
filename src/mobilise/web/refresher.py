"""The refresher process of ``mobilise serve`` (``python -m mobilise.web.refresher``).

Kept apart from ``web.warm`` so that it ties itself to its server (``core.lifeline``)
before importing the pages and the database layers, which takes seconds on a busy
machine: a server that dies in those seconds must not leave a refresher behind."""

from __future__ import annotations

from mobilise.core.lifeline import tie_to_parent


def main() -> None:
    parent = tie_to_parent()
    from mobilise.web.warm import run_refresher

    run_refresher(parent)


if __name__ == "__main__":
    main()
