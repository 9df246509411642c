"""Backend paths: ``/``-separated, relative to the backend's root, ``""`` for the root."""

from __future__ import annotations

from mobilise.storage.base import NameRejected

# Path segments below the root; an alias because the backends' ``list`` method shadows
# the builtin inside their class bodies.
Parts = list[str]


def split_path(path: str) -> Parts:
    """The segments of a backend path; ``..`` and ``.`` could escape or alias the root."""
    parts = [part for part in path.split("/") if part]
    for part in parts:
        if part in (".", ".."):
            raise NameRejected(f"{path!r}: '.' and '..' are not names")
    return parts
