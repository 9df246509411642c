"""A home directory holding every kind of problem OneDrive has, and the odd entries a
file share has too (names that are not UTF-8, a symlink loop, an unreadable folder, a
FIFO, a file deleted mid-scan, a sparse file over 250 GB, a folder over 100,000 items)."""

from __future__ import annotations

import os
import shutil
import tempfile
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

NOBODY = 65534

# relative path (as bytes) -> the finding kinds the assessment must report for it
EXPECTED: dict[bytes, set[str]] = {
    b"a:b.txt": {"invalid_characters"},
    b"what?.docx": {"invalid_characters"},
    b"bell\x07.txt": {"invalid_characters"},
    b"CON": {"blocked_name"},
    b"nul.txt": {"blocked_name"},
    b"desktop.ini": {"blocked_name"},
    b".lock": {"blocked_name"},
    b" lead.txt": {"leading_or_trailing_space"},
    b"trail.txt ": {"leading_or_trailing_space"},
    b"dot.": {"trailing_period"},
    b"~$budget.xlsx": {"office_owner_file"},
    b"x_vti_y.txt": {"vti_in_name"},
    b"forms": {"forms_at_root"},
    b"~tmp": {"tilde_folder"},
    b"Letters/Report.doc": {"case_collision"},
    b"Letters/report.DOC": {"case_collision"},
    "Letters/Café.txt".encode(): {"case_collision"},
    unicodedata.normalize("NFD", "Letters/Café.txt").encode(): {"case_collision"},
    b"big.vhd": {"file_too_large"},
    b"tool.jar": {"blocked_type"},
    b"page.ASPX": {"blocked_type"},
    b"caf\xe9.txt": {"name_not_utf8"},
    b"loop1": {"symlink"},
    b"loop2": {"symlink"},
    b"up": {"symlink"},
    b"pipe": {"special_file"},
    b"Locked": {"permission_denied"},
    b"vanish.txt": {"vanished"},
    b"Saved page_files": {"files_suffix_folder"},
    b"Crowded": {"folder_too_many_items"},
}
LONG_PATH = ("d" * 200 + "/" + "e" * 150 + "/deep.txt").encode()
EXPECTED[LONG_PATH] = {"path_too_long"}
CROWDED_ITEMS = 100_001


@dataclass(frozen=True)
class ProblemTree:
    home: Path
    data_dir: Path
    vanish: Path
    locked: Path


def _write(home: Path, rel: bytes, data: bytes = b"x") -> None:
    path = os.path.join(os.fsencode(home), rel)
    with open(path, "wb") as fh:
        fh.write(data)


def _build(home: Path) -> None:
    files = [p for p, kinds in EXPECTED.items()
             if not kinds & {"forms_at_root", "tilde_folder", "symlink", "special_file",
                             "permission_denied", "files_suffix_folder",
                             "folder_too_many_items", "file_too_large"}]
    for folder in (b"Letters", b"forms", b"~tmp", b"Saved page_files", b"Locked",
                   b"Crowded", LONG_PATH.rsplit(b"/", 1)[0]):
        os.makedirs(os.path.join(os.fsencode(home), folder), exist_ok=True)
    for rel in files:
        _write(home, rel)
    _write(home, b"Letters/fine.txt")
    _write(home, b"Locked/secret.txt")
    _write(home, b"ok.txt", b"hello")
    with open(home / "big.vhd", "wb") as fh:
        fh.truncate(251 * 1024**3)  # sparse: takes no space
    os.symlink("loop2", home / "loop1")
    os.symlink("loop1", home / "loop2")
    os.symlink("..", home / "up")  # would loop for ever if followed
    os.mkfifo(home / "pipe")
    crowded = os.open(home / "Crowded", os.O_RDONLY | os.O_DIRECTORY)
    try:
        for i in range(CROWDED_ITEMS):
            os.close(os.open(f"f{i}", os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=crowded))
    finally:
        os.close(crowded)


@pytest.fixture
def problem_tree() -> Iterator[ProblemTree]:
    """Built fresh in a folder the unprivileged user can traverse (pytest's own tmp is
    private to root), with the data folder writable by that user. Not copied from a
    template: copying would read the FIFO (and block) and fill the sparse file."""
    base = Path(tempfile.mkdtemp(prefix="mobilise-drives-", dir="/tmp"))
    try:
        base.chmod(0o755)
        home = base / "home"
        home.mkdir()
        _build(home)
        data = base / "data"
        data.mkdir()
        os.chmod(data, 0o777)
        os.chmod(home, 0o777)  # so the unprivileged scan can delete vanish.txt mid-scan
        locked = home / "Locked"
        locked.chmod(0o000)
        yield ProblemTree(home, data, home / "vanish.txt", locked)
    finally:
        shutil.rmtree(base)  # root may delete inside the chmod 000 folder
