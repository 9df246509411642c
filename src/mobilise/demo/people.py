"""A realistic synthetic force: org units, sites and a roster in the format
``mobilise people import`` reads. Deterministic for a given seed."""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mobilise.core.settings import Settings

BCUS = [
    ("CE", "Central East"),
    ("CN", "Central North"),
    ("CS", "Central South"),
    ("AW", "Central West"),
    ("EA", "East Area"),
    ("NA", "North Area"),
    ("NE", "North East"),
    ("NW", "North West"),
    ("SN", "South Area"),
    ("SE", "South East"),
    ("SW", "South West"),
    ("WA", "West Area"),
]
OCUS = [
    ("MO", "Met Operations"),
    ("SO", "Specialist Operations"),
    ("CT", "Counter Terrorism"),
    ("RT", "Roads and Transport"),
    ("PO", "Public Order"),
    ("SC", "Specialist Crime"),
]
DEPARTMENTS = [
    ("HR", "People and Training"),
    ("FIN", "Finance"),
    ("DDAT", "Digital Data and Technology"),
    ("PROP", "Property Services"),
    ("LEG", "Legal Services"),
    ("PROF", "Professionalism"),
    ("COMM", "Commercial Services"),
]
FIRST = [
    "Oliver",
    "George",
    "Harry",
    "Jack",
    "Jacob",
    "Noah",
    "Charlie",
    "Muhammad",
    "Thomas",
    "Oscar",
    "William",
    "James",
    "Leo",
    "Alfie",
    "Henry",
    "Joshua",
    "Freddie",
    "Archie",
    "Ethan",
    "Isaac",
    "Alexander",
    "Joseph",
    "Edward",
    "Samuel",
    "Max",
    "Daniel",
    "Arthur",
    "Lucas",
    "Mohammed",
    "Logan",
    "Theo",
    "Harrison",
    "Benjamin",
    "Mason",
    "Sebastian",
    "Finley",
    "Adam",
    "Dylan",
    "Zachary",
    "Riley",
    "Olivia",
    "Amelia",
    "Isla",
    "Ava",
    "Emily",
    "Isabella",
    "Mia",
    "Poppy",
    "Ella",
    "Lily",
    "Evie",
    "Sophia",
    "Grace",
    "Sophie",
    "Jessica",
    "Chloe",
    "Ruby",
    "Millie",
    "Freya",
    "Charlotte",
    "Daisy",
    "Alice",
    "Phoebe",
    "Florence",
    "Sienna",
    "Matilda",
    "Harper",
    "Ivy",
    "Esme",
    "Rosie",
    "Emma",
    "Layla",
    "Eva",
    "Zara",
    "Anya",
    "Priya",
    "Aisha",
    "Fatima",
    "Amara",
    "Chidi",
    "Kwame",
    "Deepak",
    "Rajesh",
    "Sunita",
    "Wei",
    "Mei",
    "Tomasz",
    "Katarzyna",
    "Niamh",
    "Siobhan",
    "Ciaran",
    "Rhys",
    "Cerys",
    "Dafydd",
    "Ewan",
    "Morag",
    "Callum",
]
LAST = [
    "Smith",
    "Jones",
    "Williams",
    "Taylor",
    "Brown",
    "Davies",
    "Evans",
    "Wilson",
    "Thomas",
    "Johnson",
    "Roberts",
    "Robinson",
    "Thompson",
    "Wright",
    "Walker",
    "White",
    "Edwards",
    "Hughes",
    "Green",
    "Hall",
    "Lewis",
    "Harris",
    "Clarke",
    "Patel",
    "Jackson",
    "Wood",
    "Turner",
    "Martin",
    "Cooper",
    "Hill",
    "Ward",
    "Morris",
    "Moore",
    "Clark",
    "Lee",
    "King",
    "Baker",
    "Harrison",
    "Morgan",
    "Allen",
    "James",
    "Scott",
    "Phillips",
    "Watson",
    "Davis",
    "Parker",
    "Price",
    "Bennett",
    "Young",
    "Griffiths",
    "Mitchell",
    "Kelly",
    "Cook",
    "Carter",
    "Richardson",
    "Bailey",
    "Collins",
    "Bell",
    "Shaw",
    "Murphy",
    "Miller",
    "Cox",
    "Richards",
    "Khan",
    "Marshall",
    "Anderson",
    "Simpson",
    "Ellis",
    "Adams",
    "Singh",
    "Begum",
    "Wilkinson",
    "Foster",
    "Chapman",
    "Powell",
    "Webb",
    "Rogers",
    "Gray",
    "Mason",
    "Ali",
    "Hunt",
    "Hussain",
    "Campbell",
    "Matthews",
    "Owen",
    "Palmer",
    "Holmes",
    "Mills",
    "Barnes",
    "Knight",
    "Lloyd",
    "Butler",
    "Russell",
    "Barker",
    "Fisher",
    "Stevens",
    "Jenkins",
    "Murray",
    "Dixon",
    "Harvey",
    "Graham",
    "Pearson",
    "Ahmed",
    "Fletcher",
    "Walsh",
    "Kaur",
    "Gibson",
    "Howard",
    "Andrews",
    "Stewart",
    "Elliott",
    "Reynolds",
    "Saunders",
    "Payne",
    "Fox",
    "Ford",
    "Pearce",
    "Day",
    "Brooks",
    "West",
    "Lawrence",
    "Cole",
    "Atkinson",
    "Bradley",
    "Spencer",
    "Gill",
    "Dawson",
    "Ball",
    "Burton",
    "O'Brien",
    "Watts",
    "Rose",
    "Booth",
    "Perry",
    "Ryan",
    "Grant",
    "Wells",
    "Armstrong",
    "Francis",
    "Rees",
    "Hayes",
    "Hart",
    "Hudson",
    "Newman",
    "Barrett",
    "Webster",
    "Hunter",
    "Gregory",
    "Carr",
    "Lowe",
    "Okafor",
    "Mensah",
    "Nowak",
    "Kowalski",
    "Chen",
    "Wong",
    "Nguyen",
    "Ferreira",
    "Rossi",
    "Murphy-Jones",
]
OFFICER_RANKS = [
    ("Police Constable", 780),
    ("Sergeant", 140),
    ("Inspector", 50),
    ("Chief Inspector", 18),
    ("Superintendent", 8),
    ("Chief Superintendent", 4),
]
STAFF_GRADES = [
    ("PCSO", 200),
    ("Band F", 150),
    ("Band E", 250),
    ("Band D", 200),
    ("Band C", 120),
    ("Band B", 60),
    ("Band A", 20),
]
ADJUSTMENTS = [
    "Large-screen handset (occupational health referral)",
    "Step-free issuing site required",
    "Hearing aid compatible handset; induction loop at appointment",
    "Screen reader set-up at hand-over (TalkBack)",
    "Appointment with extra time and a quiet room",
]


@dataclass(frozen=True)
class DemoFiles:
    roster: Path
    units: Path
    sites: Path


def _weighted(rng: random.Random, table: list[tuple[str, int]]) -> str:
    names, weights = zip(*table, strict=True)
    return str(rng.choices(names, weights=weights)[0])


def write_structure(out_dir: Path) -> tuple[Path, Path, list[str], dict[str, list[str]]]:
    units_path, sites_path = out_dir / "org_units.csv", out_dir / "sites.csv"
    unit_rows = [(c, n, "bcu") for c, n in BCUS] + [(c, n, "ocu") for c, n in OCUS]
    unit_rows += [(c, n, "department") for c, n in DEPARTMENTS]
    with units_path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["code", "name", "kind"])
        w.writerows(unit_rows)
    sites_by_unit: dict[str, list[str]] = {}
    with sites_path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["code", "name", "org_unit", "accessible", "issuing"])
        for code, name, kind in unit_rows:
            count = 3 if kind == "bcu" else 1
            for i in range(1, count + 1):
                site = f"{code}-{i:02d}"
                label = f"{name} {'Police Station' if kind == 'bcu' else 'Office'} {i}"
                # The first site of each BCU issues handsets; every third lacks step-free access.
                w.writerow(
                    [site, label, code, "no" if i == 3 else "yes", "yes" if i == 1 else "no"]
                )
                sites_by_unit.setdefault(code, []).append(site)
    return units_path, sites_path, [r[0] for r in unit_rows], sites_by_unit


def share_unc(domain: str) -> str:
    """The UNC root of the demo roster's home directories (``\\\\isilon.<domain>\\home$``),
    read as ``home_root`` on this machine by every demo step."""
    return f"\\\\isilon.{domain}\\home$"


def on_demo_share(settings: Settings) -> Settings:
    """``settings`` reading the demo roster's home paths as ``home_root`` (unless the
    operator named a share): without it no drive matches its person."""
    if settings.home_unc_root:
        return settings
    return settings.model_copy(update={"home_unc_root": share_unc(settings.email_domain)})


def generate_roster(
    out: Path,
    people: int = 2000,
    seed: int = 1322,
    domain: str = "example.police.uk",
    today: date = date(2022, 11, 1),
) -> DemoFiles:
    """Write roster, org units and sites CSVs next to each other."""
    out.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    units_path, sites_path, _, sites_by_unit = write_structure(out.parent)
    bcu_codes = [c for c, _ in BCUS]
    ocu_codes = [c for c, _ in OCUS]
    dept_codes = [c for c, _ in DEPARTMENTS]
    used_upns: set[str] = set()
    used_sams: set[str] = set()
    with out.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "number",
                "first_name",
                "last_name",
                "upn",
                "email",
                "kind",
                "rank",
                "org_unit",
                "site",
                "status",
                "left_on",
                "eligible",
                "eligibility_reason",
                "adjustments",
                "sam_account_name",
                "home_directory",
                "line_manager",
            ]
        )
        rows: list[list[str]] = []
        for i in range(people):
            officer = rng.random() < 0.70
            first, last = rng.choice(FIRST), rng.choice(LAST)
            base = f"{first}.{last}".lower().replace("'", "")
            upn, n = f"{base}@{domain}", 1
            while upn in used_upns:
                n += 1
                upn = f"{base}{n}@{domain}"
            used_upns.add(upn)
            sam = (first[0] + last.replace("'", "").replace("-", ""))[:14].lower()
            candidate, n = sam, 1
            while candidate in used_sams:
                n += 1
                candidate = f"{sam}{n}"
            used_sams.add(candidate)
            if officer:
                unit = rng.choices([rng.choice(bcu_codes), rng.choice(ocu_codes)], [80, 20])[0]
                number, rank = f"{200000 + i}", _weighted(rng, OFFICER_RANKS)
                eligible, reason = True, "officer"
            else:
                unit = rng.choices(
                    [rng.choice(bcu_codes), rng.choice(ocu_codes), rng.choice(dept_codes)],
                    [45, 15, 40],
                )[0]
                number, rank = f"S{700000 + i}", _weighted(rng, STAFF_GRADES)
                frontline = rank == "PCSO" or (unit in bcu_codes and rng.random() < 0.5)
                eligible = frontline
                reason = "front-line staff role" if frontline else "not a front-line role"
            leaver = rng.random() < 0.01
            left_on = (today - timedelta(days=rng.randint(1, 200))).isoformat() if leaver else ""
            adjustment = rng.choice(ADJUSTMENTS) if rng.random() < 0.02 else ""
            rows.append(
                [
                    number,
                    first,
                    last,
                    upn,
                    upn,
                    "officer" if officer else "staff",
                    rank,
                    unit,
                    rng.choice(sites_by_unit[unit]),
                    "leaver" if leaver else "active",
                    left_on,
                    "yes" if eligible else "no",
                    reason,
                    adjustment,
                    candidate,
                    f"{share_unc(domain)}\\{candidate}",
                ]
            )
        # Each unit's first person is everyone else's line manager there (the head has
        # none): no random draws, so the rest of the demo is as it was.
        heads: dict[str, str] = {}
        for row in rows:
            head = heads.setdefault(row[7], row[0])
            w.writerow([*row, "" if head == row[0] else head])
    return DemoFiles(out, units_path, sites_path)
