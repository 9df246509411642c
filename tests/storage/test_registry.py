from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from mobilise.core.errors import InvalidInput
from mobilise.core.settings import Settings
from mobilise.storage import BACKENDS, open_backend
from mobilise.storage.local import LocalBackend


def test_local_from_settings_uses_the_home_root(tmp_path: Path) -> None:
    backend = open_backend("local", Settings(home_root=tmp_path))
    assert isinstance(backend, LocalBackend)
    assert backend.root == str(tmp_path)


def test_overrides_win_over_settings(tmp_path: Path) -> None:
    (tmp_path / "archive").mkdir()
    backend = open_backend("local", Settings(home_root=tmp_path), root=tmp_path / "archive")
    assert isinstance(backend, LocalBackend)
    assert backend.root == str(tmp_path / "archive")


def test_plain_keyword_arguments(tmp_path: Path) -> None:
    backend = open_backend("local", {"root": tmp_path, "durable": False})
    assert isinstance(backend, LocalBackend)
    assert backend.durable is False


def test_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(InvalidInput, match="local, onedrive, smb"):
        open_backend("ftp", {})


def test_smb_settings_must_be_complete() -> None:
    settings = Settings(smb_server="files.example", smb_share="home", smb_password=SecretStr("x"))
    with pytest.raises(InvalidInput, match="MOBILISE_SMB_USERNAME"):
        open_backend("smb", settings)


def test_every_registered_backend_names_a_module_and_class() -> None:
    for target in BACKENDS.values():
        module, _, cls = target.partition(":")
        assert module.startswith("mobilise.storage.") and cls.endswith("Backend")
