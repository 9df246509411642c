"""How values read to people: one place for display labels of internal names
(``pre_seed`` → "pre-seed", ``vti_in_name`` → "“_vti_” in the name"), sizes in scaled
units, and moments to the minute. The pages use these as Jinja filters (``label``,
``size``, ``when``); the CLI and the demo call them directly."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

# Internal name → what a person reads. Names not listed read as themselves, with
# underscores as spaces (so a new status is never shown as ``snake_case``).
LABELS: dict[str, str] = {
    # migration
    "desk-screen": "on the desk's screen", "own-device": "on their own device",
    "pre_seed": "pre-seed", "delta": "delta", "cutover": "cutover",
    "not_started": "not started", "in_progress": "in progress",
    # drive findings (drives.assess.FindingKind)
    "invalid_characters": "characters OneDrive does not allow",
    "blocked_name": "name OneDrive does not allow",
    "leading_or_trailing_space": "space at the start or end of the name",
    "trailing_period": "full stop at the end of the name",
    "office_owner_file": "Office lock file (~$)",
    "vti_in_name": "“_vti_” in the name",
    "forms_at_root": "“forms” folder at the top level",
    "tilde_folder": "folder name beginning with ~",
    "case_collision": "same name apart from capitals",
    "name_too_long": "name too long",
    "name_not_utf8": "name in an old character set",
    "path_too_long": "path too long",
    "file_too_large": "file larger than OneDrive allows",
    "blocked_type": "file type OneDrive blocks",
    "symlink": "symbolic link",
    "special_file": "device or pipe, not a file",
    "permission_denied": "could not be read (permission denied)",
    "vanished": "disappeared during the scan",
    "too_deep": "folders nested too deep",
    "loop": "folder loop",
    "unreadable": "could not be read",
    "folder_too_many_items": "folder with too many items",
    "files_suffix_folder": "“_files” folder of a saved web page",
    "mangled_name": "shortened (8.3) name",
    # devices: Intune sync findings
    "staging_never_signed_in": "staged but nobody has signed in",
    "enrolled_not_registered": "enrolled in Intune but not in the register",
    # audit entities
    "migration_person": "person's migration", "migration_round": "migration round",
    "migration_wave": "migration wave", "person": "person", "handset": "handset",
    "org_unit": "org unit", "drive_scan": "drive scan", "user": "login",
    "api_token": "API token", "appointment": "appointment", "sim": "SIM",
}


def label(value: Any) -> str:
    """The display label of an internal name (or of an enum member)."""
    if value is None:
        return ""
    text = str(getattr(value, "value", value))
    return LABELS.get(text, text.replace("_", " "))


SIZE_UNITS = ((10**15, "PB"), (10**12, "TB"), (10**9, "GB"), (10**6, "MB"), (10**3, "kB"))


def size_text(n: int | float | None) -> str:
    """Bytes in the largest decimal unit that keeps the number at least 1 (as OneDrive and
    the disk vendors count): 183,600,000,000 → "184 GB", 2,000 → "2.0 kB"."""
    if n is None:
        return "—"
    sign = "-" if n < 0 else ""
    n = abs(n)
    for limit, suffix in SIZE_UNITS:
        if n >= limit:
            value = n / limit
            digits = f"{value:.0f}" if value >= 100 else f"{value:.1f}"
            return f"{sign}{digits} {suffix}"
    return f"{sign}{int(n)} B"


_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?$", re.IGNORECASE)
_SIZE_FACTORS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
                 "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def parse_size(text: str) -> int:
    """Bytes from bytes or a size with its unit, decimal or binary (``850 MB``,
    ``1.2 GiB``, ``10MB``, ``1,024``): what people write in rule sets and exports.
    ValueError for anything else."""
    found = _SIZE.match(text.strip().replace(",", ""))
    if not found:
        raise ValueError(f"{text!r} is not a size (bytes, or e.g. 850 MB)")
    return int(float(found.group(1)) * _SIZE_FACTORS[(found.group(2) or "b").lower()])


def when_text(moment: datetime | date | str | None) -> str:
    """A moment to the minute ("2026-12-07 18:11"), a day as itself; never microseconds."""
    if moment is None or moment == "":
        return "—"
    if isinstance(moment, str):
        try:
            parsed = datetime.fromisoformat(moment)
        except ValueError:
            return moment
        return parsed.strftime("%Y-%m-%d %H:%M")
    if isinstance(moment, datetime):
        return moment.strftime("%Y-%m-%d %H:%M")
    return moment.isoformat()


def counts_text(counts: dict[str, Any], *, empty: str = "none") -> str:
    """``{"added": 30, "changed": 0, "leavers": 2}`` → "30 added, 2 leavers": the counts
    that are not zero, each with its label."""
    shown = [f"{value:,} {label(key)}" for key, value in counts.items()
             if isinstance(value, int | float) and value]
    return ", ".join(shown) or empty
