"""Remediation: proposed names are valid, deterministic and never collide in a folder."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mobilise.drives.remediate import (
    Sibling,
    decode_name,
    name_key,
    name_problems,
    remediate_folder,
    sanitise,
)

# Raw names as a POSIX share can hold them: any bytes but "/" and NUL, 1-255 bytes, with
# the troublesome characters over-represented so that collisions actually happen.
_TRICKY = [b"a", b"A", b"~", b"$", b".", b" ", b":", b"*", b"_vti_", b"CON", b"con",
           b"forms", b"Forms", b"\xe9", b"e\xcc\x81", b"\xc3\xa9", b"\xc3\x89", b"\xff",
           b"desktop.ini", b".lock", b"\x01", b"x" * 100, b".txt"]
raw_names = st.lists(st.sampled_from(_TRICKY), min_size=1, max_size=6).map(b"".join).filter(
    lambda b: 0 < len(b) <= 255) | st.binary(min_size=1, max_size=255).map(
    lambda b: b.replace(b"/", b"-").replace(b"\0", b"-"))
folders = st.lists(st.tuples(raw_names, st.booleans()), min_size=1, max_size=12,
                   unique_by=lambda t: t[0])


def _final_names(siblings: list[Sibling], at_root: bool) -> list[tuple[Sibling, str]]:
    proposed = remediate_folder(siblings, at_root=at_root)
    return [(s, proposed.get(s.raw_name) or s.raw_name.decode("utf-8")) for s in siblings]


@settings(max_examples=400, deadline=None)
@given(folders, st.booleans())
def test_remediated_folder_has_no_two_names_onedrive_treats_as_equal(entries, at_root):
    siblings = [Sibling(raw, is_folder) for raw, is_folder in entries]
    final = _final_names(siblings, at_root)
    keys = [name_key(name) for _, name in final]
    assert len(keys) == len(set(keys)), final


@settings(max_examples=400, deadline=None)
@given(folders, st.booleans())
def test_remediated_names_are_all_accepted_by_onedrive(entries, at_root):
    siblings = [Sibling(raw, is_folder) for raw, is_folder in entries]
    for sibling, name in _final_names(siblings, at_root):
        assert name_problems(name, is_folder=sibling.is_folder, at_root=at_root) == set(), name
        assert name == name.encode("utf-8").decode("utf-8")


@settings(max_examples=200, deadline=None)
@given(folders, st.booleans(), st.randoms())
def test_remediation_is_deterministic_whatever_the_listing_order(entries, at_root, rnd):
    siblings = [Sibling(raw, is_folder) for raw, is_folder in entries]
    shuffled = list(siblings)
    rnd.shuffle(shuffled)
    assert remediate_folder(siblings, at_root=at_root) == remediate_folder(
        shuffled, at_root=at_root)


def test_names_that_pass_keep_their_names():
    siblings = [Sibling(b"Report.docx", False), Sibling(b"Notes", True)]
    assert remediate_folder(siblings, at_root=True) == {}


def test_case_collision_keeps_the_first_and_numbers_the_next():
    siblings = [Sibling(b"report.DOC", False), Sibling(b"Report.doc", False)]
    assert remediate_folder(siblings, at_root=False) == {b"report.DOC": "report (2).DOC"}


def test_unicode_forms_collide_and_are_separated():
    nfd, nfc = "Cafe\u0301.txt".encode(), "Caf\u00e9.txt".encode()
    proposed = remediate_folder([Sibling(nfd, False), Sibling(nfc, False)], at_root=False)
    assert proposed == {nfd: "Café (2).txt"} or proposed == {nfc: "Café (2).txt"}


def test_a_fixed_name_does_not_take_an_existing_name():
    siblings = [Sibling(b"a:b.txt", False), Sibling(b"a_b.txt", False)]
    assert remediate_folder(siblings, at_root=False) == {b"a:b.txt": "a_b (2).txt"}


def test_sanitise_examples():
    assert sanitise("CON", is_folder=False, at_root=False) == "_CON"
    assert sanitise("lpt1.txt", is_folder=False, at_root=False) == "_lpt1.txt"
    assert sanitise(" name . ", is_folder=False, at_root=False) == "name"
    assert sanitise("~$budget.xlsx", is_folder=False, at_root=False) == "_$budget.xlsx"
    assert sanitise("~old", is_folder=True, at_root=False) == "_old"
    assert sanitise("~old", is_folder=False, at_root=False) == "~old"
    assert sanitise("my_vti_cnf", is_folder=True, at_root=False) == "my-vti-cnf"
    assert sanitise("forms", is_folder=True, at_root=True) == "forms_"
    # Refused below the root of a real library too.
    assert sanitise("forms", is_folder=True, at_root=False) == "forms_"
    assert sanitise("forms", is_folder=False, at_root=False) == "forms"
    assert sanitise('a<b>c"d|e?f*g', is_folder=False, at_root=False) == "a_b_c_d_e_f_g"
    long = sanitise("x" * 300 + ".docx", is_folder=False, at_root=False)
    assert len(long) == 255 and long.endswith(".docx")


def test_names_not_utf8_are_read_as_windows_1252():
    assert decode_name(b"caf\xe9 \x80.txt") == "café €.txt"
    assert decode_name(b"bad\x81") == "bad_"
