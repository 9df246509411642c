"""SMB-specific behaviour beyond the conformance suite, against the Samba server that
script/services.sh starts (the tests fail, not skip, without it)."""

from __future__ import annotations

import uuid

import pytest

from mobilise.storage.base import AccessDenied, NameRejected
from mobilise.storage.smb import SmbBackend
from tests.storage.conftest import smb_settings
from tests.storage.test_local import FailingStream

pytestmark = pytest.mark.smb


def test_wrong_password_is_access_denied() -> None:
    settings = {**smb_settings(), "password": "not-the-password"}
    with pytest.raises(AccessDenied):
        SmbBackend(**settings)


@pytest.mark.parametrize("name", ["a:b", "what?", "star*", "back\\slash", "pipe|", "tab\t"])
def test_names_smb_cannot_hold_are_rejected_before_sending(name: str) -> None:
    with SmbBackend(**smb_settings()) as backend, pytest.raises(NameRejected):
        backend.stat(name)


def unique(stem: str) -> str:
    """A folder name no parallel test run uses."""
    return f"{stem}-{uuid.uuid4().hex[:12]}"


def test_root_below_the_share() -> None:
    rooted = unique("rooted")
    with SmbBackend(**smb_settings()) as share:
        share.mkdir(f"{rooted}/inner")
        try:
            with SmbBackend(**smb_settings(), root=rooted) as backend:
                assert [e.path for e in backend.list("")] == ["inner"]
        finally:
            share.remove(f"{rooted}/inner")
            share.remove(rooted)


def test_source_errors_surface_as_themselves_and_leave_nothing() -> None:
    failing = unique("failing")
    with SmbBackend(**smb_settings()) as share:
        share.mkdir(failing)
        try:
            with pytest.raises(OSError, match="on the source"):
                share.write(f"{failing}/f.txt", FailingStream(), 10)  # type: ignore[arg-type]
            assert list(share.list(failing)) == []
        finally:
            share.remove(failing)
