"""Every folder Mobilise writes follows data_dir unless it is set on its own: the demo and
the tests once wrote H: drives into ./mobilise-data/home of whatever folder they ran in."""

from __future__ import annotations

from pathlib import Path

import pytest

from mobilise.core.settings import Settings


def test_unset_folders_live_under_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "d")
    assert settings.home_root == tmp_path / "d" / "home"
    assert settings.archive_root == tmp_path / "d" / "archive"
    assert settings.migration_destination_root == tmp_path / "d" / "onedrive"


def test_the_environment_moves_them_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOBILISE_DATA_DIR", str(tmp_path / "env"))
    assert Settings().home_root == tmp_path / "env" / "home"


def test_a_folder_set_on_its_own_is_kept(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "d", home_root=tmp_path / "share")
    assert settings.home_root == tmp_path / "share"
    assert settings.archive_root == tmp_path / "d" / "archive"
