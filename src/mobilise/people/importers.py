"""Column maps and row validators for the people register's files."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from mobilise.core.importer import Column, ImportSpec, choice, limited, parse_bool, parse_date
from mobilise.core.limits import column_length
from mobilise.people.models import OrgUnit, Person, Site

UPN = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
NUMBER = re.compile(r"^[A-Za-z0-9]{3,20}$")
SAM = re.compile(r"^[A-Za-z0-9._-]{1,20}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def parse_sam(text: str) -> str:
    # A login made of dots would name the home root itself ('.') or its parent ('..')
    # wherever a path is built from it (the home template, a drive's folder).
    if not SAM.match(text) or not text.strip("."):
        raise ValueError(f"{text!r} is not a valid sAMAccountName")
    return text


def parse_home_directory(text: str) -> str:
    """A home directory names one folder: ``\\\\server\\share\\folder`` or ``/mount/folder``,
    with no ``.`` or ``..`` step (``\\\\server\\home$\\..`` is the whole share)."""
    if _CONTROL.search(text):
        raise ValueError("a home directory has no control characters")
    steps = re.split(r"[\\/]", text)
    if any(step in {".", ".."} for step in steps):
        raise ValueError(f"{text!r}: a home directory has no '.' or '..' step")
    named = [step for step in steps if step]
    if text.startswith("\\\\"):
        if len(named) < 3:
            raise ValueError(f"{text!r} is not a folder on a share (\\\\server\\share\\folder)")
    elif not text.startswith("/") or not named:
        raise ValueError(f"{text!r} is not a UNC path (\\\\server\\share\\folder) or an "
                         "absolute path")
    return text


def _pattern(regex: re.Pattern[str], what: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if not regex.match(text):
            raise ValueError(f"{text!r} is not a valid {what}")
        return text

    return parse


def _lower_pattern(regex: re.Pattern[str], what: str) -> Callable[[str], str]:
    inner = _pattern(regex, what)
    return lambda text: inner(text).lower()


UNITS = ImportSpec(
    name="org units",
    columns=limited((
        Column("code", ("unit", "unit code")),
        Column("name", ("unit name",)),
        Column("kind", ("type",), choice("bcu", "ocu", "department")),
    ), OrgUnit),
    unique=("code",),
)

SITES = ImportSpec(
    name="sites",
    columns=limited((
        Column("code", ("site", "site code")),
        Column("name", ("site name",)),
        Column("org_unit", ("unit", "bcu"), required=False),
        Column("accessible", ("step free", "accessible site"), parse_bool, required=False,
               default=True),
        Column("issuing", ("issuing site", "issues handsets"), parse_bool, required=False,
               default=False),
    ), Site, {"org_unit": column_length(OrgUnit.code)}),
    unique=("code",),
)


def roster_spec(unit_codes: set[str], site_codes: set[str]) -> ImportSpec:
    def check(values: dict[str, Any]) -> list[tuple[str, str]]:
        problems = []
        if values["org_unit"] not in unit_codes:
            problems.append(("org_unit", f"unknown org unit {values['org_unit']!r}"))
        site = values.get("site")
        if site and site not in site_codes:
            problems.append(("site", f"unknown site {site!r}"))
        if values.get("status") == "active" and values.get("left_on"):
            problems.append(("left_on", "an active person has no leaving date"))
        return problems

    return ImportSpec(
        name="roster",
        columns=limited((
            Column("number", ("warrant number", "staff number", "warrant or staff number",
                              "employee number", "payroll"),
                   _pattern(NUMBER, "warrant or staff number")),
            Column("first_name", ("forename", "given name", "first name")),
            Column("last_name", ("surname", "family name", "last name")),
            Column("upn", ("user principal name", "userprincipalname"),
                   _lower_pattern(UPN, "UPN")),
            Column("email", ("mail", "email address"), _lower_pattern(UPN, "email address")),
            Column("kind", ("officer or staff", "type"), choice("officer", "staff")),
            Column("rank", ("grade", "rank or grade"), required=False),
            Column("org_unit", ("unit", "org unit code", "bcu", "department")),
            Column("site", ("site code", "base"), required=False),
            Column("status", (), choice("active", "leaver"), required=False, default="active"),
            Column("left_on", ("leaving date", "left"), parse_date, required=False),
            Column("eligible", ("handset eligible", "eligibility"), parse_bool, required=False,
                   default=True),
            Column("eligibility_reason", ("eligibility reason",), required=False),
            Column("adjustments", ("reasonable adjustments", "adjustment notes"),
                   required=False),
            Column("sam_account_name", ("sam", "samaccountname", "login", "username"),
                   parse_sam, required=False),
            Column("home_directory", ("homedirectory", "home directory", "h drive"),
                   parse_home_directory, required=False),
            Column("line_manager", ("manager", "line manager", "manager number",
                                    "line manager number"),
                   _pattern(NUMBER, "line manager's warrant or staff number"), required=False),
        ), Person, {"org_unit": column_length(OrgUnit.code), "site": column_length(Site.code)}),
        unique=("number", "upn", "email"),
        row_check=check,
    )
