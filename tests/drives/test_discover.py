"""Discovery: people matched to the home directories that exist, and the rest reported."""

from __future__ import annotations

import pytest

from mobilise.core.errors import ImportRejected, InvalidInput
from mobilise.drives.discover import (
    MatchSource,
    PersonHome,
    discover_drives,
    expand_template,
    list_homes,
    read_user_mapping,
    translate_path,
)

UNC = [("\\\\isilon.example.police.uk\\home$", "/mnt/isilon/home")]


def test_translate_unc_roster_paths_to_the_mount():
    assert translate_path("\\\\ISILON.example.police.uk\\home$\\jsmith", UNC) == \
        "/mnt/isilon/home/jsmith"
    assert translate_path("\\\\isilon.example.police.uk\\home$", UNC) == "/mnt/isilon/home"
    assert translate_path("/srv/home/jsmith/", UNC) == "/srv/home/jsmith"
    # A different share is left alone rather than guessed.
    assert translate_path("\\\\other\\home$\\jsmith", UNC) == "\\\\other\\home$\\jsmith"


def test_template_fields():
    person = PersonHome("200001", "jo.bloggs@example.police.uk", "jbloggs")
    assert expand_template("/mnt/home/{sam}", person) == "/mnt/home/jbloggs"
    assert expand_template("/h/{number}/{upn_user}", person) == "/h/200001/jo.bloggs"
    assert expand_template("/mnt/home/{sam}", PersonHome("1", "a@b.cd")) is None
    with pytest.raises(InvalidInput):
        expand_template("/mnt/home/{surname}", person)


def test_discovery_from_roster_template_and_mapping_with_orphans():
    existing = ["/mnt/isilon/home/jsmith", "/mnt/isilon/home/ABROWN", "/mnt/isilon/home/cjones",
                "/mnt/isilon/home/left1", "/mnt/isilon/home/mapped"]
    people = [
        PersonHome("1", "jo.smith@example.police.uk", "jsmith",
                   "\\\\isilon.example.police.uk\\home$\\jsmith"),
        PersonHome("2", "al.brown@example.police.uk", "abrown"),  # template; case differs
        PersonHome("3", "cy.jones@example.police.uk", "cjones", leaver=True),
        PersonHome("4", "no.drive@example.police.uk", "ndrive"),
        PersonHome("5", "ma.pped@example.police.uk", "mpped"),
    ]
    mapping = read_user_mapping_text("/mnt/isilon/home/mapped,ma.pped@example.police.uk,FALSE\n")
    found = discover_drives(people, existing, template="/mnt/isilon/home/{sam}",
                            mapping=mapping, unc_roots=UNC)
    matched = {m.person_key: (m.home, m.source, m.leaver) for m in found.matched}
    assert matched == {
        "1": ("/mnt/isilon/home/jsmith", MatchSource.ROSTER, False),
        "2": ("/mnt/isilon/home/ABROWN", MatchSource.TEMPLATE, False),
        "3": ("/mnt/isilon/home/cjones", MatchSource.TEMPLATE, True),
        "5": ("/mnt/isilon/home/mapped", MatchSource.MAPPING, False),
    }
    assert [m.person_key for m in found.without_drive] == ["4"]
    assert "/mnt/isilon/home/ndrive" in found.without_drive[0].reason
    assert found.orphans == ["/mnt/isilon/home/left1"]


def test_mapping_by_login_uses_the_template(tmp_path):
    path = tmp_path / "map.csv"
    path.write_text("POLICE\\jsmith2,jo.smith@example.police.uk,FALSE\n"
                    "S-1-5-21-1-2-3-1001,al.brown@example.police.uk\n")
    mapping = read_user_mapping(path)
    assert mapping[1].source_is_sid and not mapping[0].source_is_sid
    found = discover_drives([PersonHome("1", "Jo.Smith@example.police.uk", "jsmith")],
                            ["/h/jsmith2", "/h/jsmith"], template="/h/{sam}", mapping=mapping)
    assert found.matched[0].home == "/h/jsmith2"
    assert found.matched[0].source is MatchSource.MAPPING
    assert found.orphans == ["/h/jsmith"]


def test_bad_mapping_file_is_rejected_with_line_numbers(tmp_path):
    path = tmp_path / "map.csv"
    path.write_text("/h/a,a@example.police.uk\n/h/b,not-a-upn\nlonely\n")
    with pytest.raises(ImportRejected) as err:
        read_user_mapping(path)
    assert [str(p) for p in err.value.problems] == [
        f"{path}:2:2: 'not-a-upn' is not a UPN", f"{path}:3:1: expected: source, target UPN"]


def test_list_homes(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path / "a")
    assert list_homes(tmp_path) == [str(tmp_path / "a"), str(tmp_path / "b")]


def read_user_mapping_text(text: str):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "map.csv"
        path.write_text(text)
        return read_user_mapping(path)
