"""File checksums by name: QuickXorHash (what OneDrive reports) and the SHA family, in the
text forms the tools show them (base64 for quickxor as Graph does, hex for the others)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from mobilise.storage.quickxor import QuickXorHash
from mobilise.storage.streams import Readable, read_chunks

if TYPE_CHECKING:
    from typing_extensions import Buffer


class HashType(StrEnum):
    QUICKXOR = "quickxor"
    SHA1 = "sha1"
    SHA256 = "sha256"


class Hasher(Protocol):
    def update(self, data: Buffer, /) -> None: ...

    def digest(self) -> bytes: ...

    def hexdigest(self) -> str: ...


def new_hasher(kind: HashType) -> Hasher:
    if kind is HashType.QUICKXOR:
        return QuickXorHash()
    return hashlib.new(kind.value)


def render_digest(kind: HashType, hasher: Hasher) -> str:
    if isinstance(hasher, QuickXorHash):
        return hasher.b64digest()
    return hasher.hexdigest()


def hash_stream(stream: Readable, kind: HashType) -> str:
    hasher = new_hasher(kind)
    for chunk in read_chunks(stream):
        hasher.update(chunk)
    return render_digest(kind, hasher)


def hash_file(path: str | os.PathLike[str], kind: HashType) -> str:
    with open(path, "rb", buffering=0) as stream:
        return hash_stream(stream, kind)


@dataclass(frozen=True)
class FileDigest:
    """One line of a hash listing: a digest, or why the file could not be read."""

    path: Path
    digest: str | None = None
    error: str | None = None


def hash_paths(paths: Iterable[Path], kind: HashType) -> Iterator[FileDigest]:
    """Hash each file named, and every file under each folder named, in name order.

    Symbolic links met inside a folder are not followed (a link may point anywhere,
    including back up the tree); a link named explicitly is hashed like the file it names.
    """
    for path in paths:
        if path.is_dir():
            yield from _hash_tree(path, kind)
        else:
            yield _hash_one(path, kind)


def _hash_tree(root: Path, kind: HashType) -> Iterator[FileDigest]:
    try:
        children = sorted(os.scandir(root), key=lambda e: os.fsencode(e.name))
    except OSError as exc:
        yield FileDigest(root, error=exc.strerror or str(exc))
        return
    for child in children:
        path = root / child.name
        if child.is_dir(follow_symlinks=False):
            yield from _hash_tree(path, kind)
        elif child.is_file(follow_symlinks=False):
            yield _hash_one(path, kind)


def _hash_one(path: Path, kind: HashType) -> FileDigest:
    try:
        return FileDigest(path, digest=hash_file(path, kind))
    except OSError as exc:
        return FileDigest(path, error=exc.strerror or str(exc))
