"""``mobilise hash``: print file checksums the way ``rclone hashsum`` does, so a file on
the H: drive can be checked by hand against what OneDrive reports for it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from mobilise.storage.checksums import HashType, hash_paths


def hash_command(
    paths: Annotated[
        list[Path], typer.Argument(help="Files, or folders to hash every file under.")
    ],
    kind: Annotated[
        HashType,
        typer.Option(
            "--type",
            "-t",
            help="quickxor (base64, as OneDrive reports it), sha1 or sha256 (hex).",
        ),
    ] = HashType.QUICKXOR,
) -> None:
    """Print '<digest>  <path>' for each file; folders are walked in name order."""
    failed = 0
    for item in hash_paths(paths, kind):
        if item.digest is None:
            failed += 1
            message = f": {item.error}".encode()
            typer.echo(b"mobilise hash: " + os.fsencode(item.path) + message, err=True)
            continue
        # Bytes out: a name that is not valid UTF-8 is printed as the bytes it is.
        typer.echo(item.digest.encode("ascii") + b"  " + os.fsencode(item.path))
    if failed:
        raise typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    app.command("hash", short_help=SHORT_HELP)(hash_command)


SHORT_HELP = "File checksums as `rclone hashsum` prints them (quickxor: what OneDrive reports)."
