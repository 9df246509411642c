"""Where a person's drive may be: strictly inside the home root, and nowhere else.

A roster row such as ``\\\\server\\home$\\..`` or a login of ``..`` would otherwise make one
person's "drive" the whole share (or its parent): a scan of everyone's files, a migration
of other people's files into one OneDrive, a disposal reaching past the drive. The roster
importer refuses such rows; this is the defence in depth for rows already in the
database, and the one test that scan, migration and disposal all apply to a drive root
before using it. A root that fails is refused with the reason, never followed.
"""

from __future__ import annotations

import ntpath
import os
import re

from mobilise.core.errors import InvalidInput


class DriveRootRefused(InvalidInput):
    """A drive root that is not a folder strictly inside the home root."""


_STEP = re.compile(r"[\\/]")


def confine_drive_root(root: str, home_root: str | os.PathLike[str]) -> str:
    """``root`` if it names a folder strictly inside ``home_root`` (a local path, or a
    UNC path on an SMB share); else ``DriveRootRefused`` saying why. Judged on the
    path as written (no ``.`` or ``..`` step) and, for a local path, where it really
    leads (links resolved), so a link out of the share is refused, not followed."""
    text, home = os.fspath(root), os.fspath(home_root)
    if any(step in {".", ".."} for step in _STEP.split(text)):
        raise DriveRootRefused(f"drive root {text!r} is not a folder inside the home root "
                               f"{home!r}: it has a '.' or '..' step; refused")
    if home.startswith("\\\\") or text.startswith("\\\\"):
        inside = _unc_inside(text, home)
    else:
        inside = _local_inside(text, home)
    if not inside:
        raise DriveRootRefused(f"drive root {text!r} is not a folder inside the home root "
                               f"{home!r}; refused")
    return text


def _unc_inside(root: str, home: str) -> bool:
    # SMB names compare without regard to case.
    steps = [s.casefold() for s in _STEP.split(ntpath.normpath(root)) if s]
    base = [s.casefold() for s in _STEP.split(ntpath.normpath(home)) if s]
    return len(steps) > len(base) and steps[: len(base)] == base


def _local_inside(root: str, home: str) -> bool:
    real_home = os.path.realpath(home)
    real_root = os.path.realpath(root)
    try:
        common = os.path.commonpath([real_home, real_root])
    except ValueError:
        return False
    return common == real_home and real_root != real_home
