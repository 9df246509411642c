from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from mobilise.cli.hash import register


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """A stand-in for the real root app, so ``hash`` is a sub-command."""

    register(app)
    return app


def run(app: typer.Typer, *args: str | Path) -> tuple[int, bytes, bytes]:
    result = CliRunner().invoke(app, ["hash", *map(os.fspath, args)])
    return result.exit_code, result.stdout_bytes, result.stderr_bytes


def test_quickxor_is_the_default_and_base64(app: typer.Typer, tmp_path: Path) -> None:
    (tmp_path / "hello.txt").write_bytes(b"hello world")
    code, out, _ = run(app, tmp_path / "hello.txt")
    assert code == 0
    assert out == f"aCgDG9jwBhDc4Q1yawMZAAAAAAA=  {tmp_path}/hello.txt\n".encode()


@pytest.mark.parametrize("kind", ["sha1", "sha256"])
def test_sha_types_print_hex(app: typer.Typer, tmp_path: Path, kind: str) -> None:
    target = tmp_path / "data.bin"
    target.write_bytes(os.urandom(5 * 1024 * 1024 + 3))
    code, out, _ = run(app, "--type", kind, target)
    expected = hashlib.new(kind, target.read_bytes()).hexdigest()
    assert (code, out) == (0, f"{expected}  {target}\n".encode())


def test_folders_recurse_in_name_order_without_following_links(
    app: typer.Typer, tmp_path: Path
) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "inner.txt").write_bytes(b"inner")
    (tmp_path / "a.txt").write_bytes(b"")
    (tmp_path / "c.txt").write_bytes(b"\x4a")
    (tmp_path / "link.txt").symlink_to(tmp_path / "c.txt")
    (tmp_path / "loop").symlink_to(tmp_path)
    code, out, _ = run(app, tmp_path)
    assert code == 0
    assert [line.split(b"  ", 1)[1] for line in out.splitlines()] == [
        f"{tmp_path}/{name}".encode() for name in ("a.txt", "b/inner.txt", "c.txt")
    ]
    assert out.splitlines()[0].startswith(b"AAAAAAAAAAAAAAAAAAAAAAAAAAA=  ")
    assert out.splitlines()[2].startswith(b"SgAAAAAAAAAAAAAAAQAAAAAAAAA=  ")


def test_non_utf8_name_is_printed_as_its_bytes(app: typer.Typer, tmp_path: Path) -> None:
    raw = os.fsencode(tmp_path) + b"/caf\xe9.txt"
    with open(raw, "wb") as handle:
        handle.write(b"hello world")
    code, out, _ = run(app, tmp_path)
    assert code == 0
    assert out == b"aCgDG9jwBhDc4Q1yawMZAAAAAAA=  " + raw + b"\n"


def test_missing_file_is_reported_and_the_rest_still_hashed(
    app: typer.Typer, tmp_path: Path
) -> None:
    (tmp_path / "there.txt").write_bytes(b"hello world")
    code, out, err = run(app, tmp_path / "absent.txt", tmp_path / "there.txt")
    assert code == 1
    assert b"absent.txt: No such file or directory" in err
    assert out == f"aCgDG9jwBhDc4Q1yawMZAAAAAAA=  {tmp_path}/there.txt\n".encode()


def test_unknown_type_is_refused(app: typer.Typer, tmp_path: Path) -> None:
    code, _, err = run(app, "--type", "md5", tmp_path)
    assert code == 2
    assert b"md5" in err
