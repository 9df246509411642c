"""OneDrive for Business name, path and size rules, as Microsoft documents them
("Restrictions and limitations in OneDrive and SharePoint"). Each check raises the
Graph-shaped fault the service answers with."""

from __future__ import annotations

import re

from mobilise.emulator.errors import GraphFault, invalid_request

MAX_PATH = 400
MAX_SEGMENT = 255
MAX_FILE_SIZE = 250 * 1000**3  # "250 GB": Microsoft's pages use decimal units here

_INVALID_CHARS = set('"*:<>?/\\|')
_RESERVED = {".lock", "con", "prn", "aux", "nul", "desktop.ini"}
_RESERVED |= {f"com{i}" for i in range(10)} | {f"lpt{i}" for i in range(10)}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


ILLEGAL = "The provided name cannot contain any illegal characters."


def _bad_name(message: str) -> GraphFault:
    # Real Graph answers a bad name with 400 invalidRequest and no inner code (the
    # documented ``invalidPath`` is not what the service sends). The characters case uses
    # the service's own message; the other rules keep its opening words.
    return invalid_request(message)


def check_name(name: str, *, is_folder: bool) -> None:
    """Refuse a name OneDrive refuses; the fault says which rule it broke."""
    if not name:
        raise _bad_name("The name is empty.")
    if len(name) > MAX_SEGMENT:
        raise GraphFault(
            400, "invalidRequest",
            f"The name is longer than {MAX_SEGMENT} characters.", inner="pathIsTooLong",
        )
    bad = sorted({c for c in name if c in _INVALID_CHARS})
    if bad:
        raise _bad_name(ILLEGAL)
    if _CONTROL.search(name):
        raise _bad_name(ILLEGAL)
    if name != name.strip(" "):
        raise _bad_name("The provided name cannot begin or end with a space.")
    if name.endswith("."):
        raise _bad_name("The provided name cannot end with a period.")
    lowered = name.lower()
    if lowered in _RESERVED:
        raise _bad_name(f"The provided name '{name}' is reserved.")
    if name.startswith("~$"):
        raise _bad_name("The provided name cannot begin with ~$.")
    if "_vti_" in lowered:
        raise _bad_name("The provided name cannot contain _vti_.")
    if is_folder and name.startswith("~"):
        raise _bad_name("The provided name cannot begin with ~ for a folder.")
    if is_folder and lowered == "forms":
        # SharePoint keeps "Forms" for a library's own pages; real libraries refuse a
        # folder of that name below the root too, not only at the top.
        raise _bad_name("The provided name 'forms' is reserved for a folder.")


def server_relative_prefix(upn: str) -> str:
    """``personal/<upn with . and @ as _>/Documents/``: counted in the 400-character limit."""
    return f"personal/{re.sub(r'[.@]', '_', upn.lower())}/Documents/"


def check_path_length(upn: str, relative_path: str) -> None:
    full = server_relative_prefix(upn) + relative_path
    if len(full) > MAX_PATH:
        raise GraphFault(
            400, "invalidRequest",
            f"The path is {len(full)} characters long, counted as '{full[:60]}...'; "
            f"the limit is {MAX_PATH}.",
            inner="pathIsTooLong",
        )


def check_file_size(size: int) -> None:
    if size > MAX_FILE_SIZE:
        raise invalid_request(
            f"The file is {size} bytes; the largest allowed is {MAX_FILE_SIZE}.",
            inner="maxFileSizeExceeded",
        )
