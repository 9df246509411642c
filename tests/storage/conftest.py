"""The backends the conformance suite runs against.

Adding a backend is one line in ``BACKENDS``: a name, a factory that yields a fresh,
empty ``Subject`` for one test (and cleans up after it), and the pytest marks it needs.
A factory may live in another module; it gets pytest's ``request`` and ``tmp_path``.
The suite itself (test_conformance.py) is never edited per backend; a backend's
limitations come from its declared ``capabilities``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mobilise.storage.base import Backend, EntryKind, join
from mobilise.storage.local import LocalBackend
from tests.storage.onedrive_fixture import (  # noqa: F401 - the fixture is used by name
    onedrive_backend_for_test,
    onedrive_emulator,
)


@dataclass
class Subject:
    """A backend under test, rooted in an empty folder of its own, and the ways to
    arrange what the Backend interface itself cannot create."""

    backend: Backend
    # make_symlink(path, target): needed by backends that declare SYMLINKS.
    make_symlink: Callable[[str, str], None] | None = None


# factory(request, tmp_path): ``request.getfixturevalue`` reaches session fixtures, such
# as a server started once for the whole run.
SubjectFactory = Callable[[pytest.FixtureRequest, Path], AbstractContextManager[Subject]]


@dataclass(frozen=True)
class BackendUnderTest:
    factory: SubjectFactory
    marks: tuple[pytest.MarkDecorator, ...] = field(default=())


@contextmanager
def local_subject(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Subject]:
    root = tmp_path / "local-root"
    root.mkdir()

    def make_symlink(path: str, target: str) -> None:
        os.symlink(target, os.path.join(root, path))

    yield Subject(LocalBackend(root), make_symlink=make_symlink)


SMB_ENVIRONMENT = (
    "MOBILISE_TEST_SMB_SERVER",
    "MOBILISE_TEST_SMB_PORT",
    "MOBILISE_TEST_SMB_SHARE",
    "MOBILISE_TEST_SMB_USER",
    "MOBILISE_TEST_SMB_PASSWORD",
)


def smb_settings() -> dict[str, Any]:
    """The Samba server script/services.sh started; a missing one fails the test."""
    missing = [name for name in SMB_ENVIRONMENT if not os.environ.get(name)]
    if missing:
        pytest.fail(
            f"the smb tests need a Samba server, but {', '.join(missing)} is not set: run "
            "them through script/test, or `source script/services.sh; start_samba` first",
            pytrace=False,
        )
    return {
        "server": os.environ["MOBILISE_TEST_SMB_SERVER"],
        "port": int(os.environ["MOBILISE_TEST_SMB_PORT"]),
        "share": os.environ["MOBILISE_TEST_SMB_SHARE"],
        "username": os.environ["MOBILISE_TEST_SMB_USER"],
        "password": os.environ["MOBILISE_TEST_SMB_PASSWORD"],
    }


@contextmanager
def smb_subject(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Subject]:
    from mobilise.storage.smb import SmbBackend

    settings = smb_settings()
    folder = f"conformance-{uuid.uuid4().hex[:12]}"
    with SmbBackend(**settings) as share:
        share.mkdir(folder)
        try:
            with SmbBackend(**settings, root=folder) as backend:
                yield Subject(backend)
        finally:
            remove_tree(share, folder)


def remove_tree(backend: Backend, path: str) -> None:
    for entry in list(backend.list(path)):
        if entry.kind is EntryKind.FOLDER:
            remove_tree(backend, entry.path)
        else:
            backend.remove(entry.path)
    backend.remove(join(path))


@contextmanager
def onedrive_subject(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Subject]:
    with onedrive_backend_for_test(request, tmp_path) as backend:
        yield Subject(backend)


BACKENDS: dict[str, BackendUnderTest] = {
    "local": BackendUnderTest(local_subject),
    "smb": BackendUnderTest(smb_subject, marks=(pytest.mark.smb,)),
    "onedrive": BackendUnderTest(onedrive_subject),
}


@pytest.fixture(params=[pytest.param(name, marks=b.marks) for name, b in BACKENDS.items()])
def subject(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Subject]:
    with BACKENDS[request.param].factory(request, tmp_path) as made:
        yield made
