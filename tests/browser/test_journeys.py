"""Key journeys in real Chromium: sign in and find a person, hand over a handset, follow a
wave, review a flagged file (the person, or a records manager), approve a disposal batch."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.conftest import Site, assert_accessible, sign_in
from tests.devices.fleet import imei


def test_sign_in_find_a_person_and_sign_out(page: Page, site: Site) -> None:
    sign_in(page, site)
    expect(page.get_by_role("heading", name="Programme overview")).to_be_visible()
    page.get_by_role("link", name="People", exact=True).click()
    page.get_by_label("Name, number or UPN").fill("alex17")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="100017").click()
    expect(page.get_by_role("heading", name="Alex17 Smith")).to_be_visible()
    expect(page.get_by_text("person.add")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_hand_over_a_handset(page: Page, fleet_site: Site) -> None:
    sign_in(page, fleet_site)
    page.get_by_role("link", name="Hand-over", exact=True).click()
    page.get_by_label("Name, warrant or staff number, or UPN").fill("alex2")
    page.get_by_role("button", name="Find").click()
    page.get_by_role("link", name="Choose Alex2 Smith").click()
    page.get_by_label("IMEI (scan the barcode on the box)").fill(imei(11))
    page.get_by_role("button", name="Hand over").click()
    # The policy must be accepted first: the browser refuses the unticked required box.
    expect(page.get_by_role("status")).to_have_count(0)
    page.get_by_label("Alex2 Smith has read and accepted the acceptable-use policy").check()
    page.get_by_role("button", name="Hand over").click()
    # Handset 11 of the fleet is disposed: refused, and the form keeps the person, the
    # handset, the kit and the acceptance.
    expect(page.get_by_role("alert")).to_contain_text("cannot issue from disposed")
    accepted = page.get_by_label("Alex2 Smith has read and accepted the acceptable-use policy")
    expect(accepted).to_be_checked()
    expect(page.get_by_label("IMEI (scan the barcode on the box)")).to_have_value(imei(11))
    page.get_by_label("IMEI (scan the barcode on the box)").fill(imei(12))  # a spare
    page.get_by_role("button", name="Hand over").click()
    expect(page.get_by_role("status")).to_contain_text(f"Handset {imei(12)} handed to Alex2 Smith")
    page.goto(fleet_site.url + f"/handsets/{imei(12)}")
    expect(page.get_by_text("Alex2 Smith").first).to_be_visible()
    # Later the officer reports it lost: recorded from the handset's own page.
    page.get_by_label("Report lost").check()
    page.get_by_role("button", name="Record").click()
    expect(page.get_by_role("alert")).to_contain_text("police reference")
    page.get_by_label("Police reference (crime or lost-property number)").fill("LP/2026/77")
    page.get_by_role("button", name="Record").click()
    expect(page.get_by_role("status")).to_contain_text("Recorded: Report lost")
    expect(page.get_by_role("heading", level=1)).to_contain_text("lost")


def test_bar_the_sims_of_lost_handsets(page: Page, fleet_site: Site) -> None:
    sign_in(page, fleet_site)
    page.goto(fleet_site.url + "/handsets")
    page.get_by_role("link", name="SIM bars", exact=True).click()
    expect(page.get_by_text("2 bar request(s) waiting to be sent.")).to_be_visible()
    page.get_by_role("button", name="Send queued bar requests").click()
    expect(page.get_by_role("status").first).to_contain_text("2 bar request(s) queued")
    assert_accessible(page)  # the page with its forms showing
    page.get_by_label("Carrier's reference").first.fill("EE-1001")
    page.get_by_role("button", name="Record bar confirmed").first.click()
    expect(page.get_by_role("status").first).to_contain_text("bar confirm recorded")
    expect(page.get_by_role("button", name="Request unbar")).to_have_count(1)


def test_follow_a_wave(page: Page, site: Site) -> None:
    sign_in(page, site)
    page.get_by_role("link", name="Waves", exact=True).click()
    page.get_by_role("link", name="Pilot", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Pilot")
    expect(page.get_by_text("Alex3 Smith")).to_be_visible()
    page.get_by_role("link", name="Migration progress", exact=True).click()
    expect(page.get_by_role("heading", name="Migration progress")).to_be_visible()
    expect(page.get_by_text("0 of 5 people in waves migrated")).to_be_visible()


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_the_person_reviews_their_flagged_file(page: Page, retention_site: Site) -> None:
    sign_in(page, retention_site, "alex")
    page.get_by_role("link", name="1 of your files awaits your decision").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Files to review: Alex0 Smith")
    assert_accessible(page)
    page.get_by_label("Music/song.mp3").check()
    page.get_by_label("Decision", exact=True).select_option(label="Keep: move to OneDrive")
    page.get_by_label("Justification", exact=True).fill("my own music, for the gym")
    page.get_by_role("button", name="Decide the chosen files").click()
    expect(page.get_by_text("Nothing awaits review.")).to_be_visible()
    page.goto(retention_site.url + "/")
    expect(page.get_by_text("of your files").first).to_have_count(0)
    # The records team sees the queue emptied, and the decision on the record as alex's.
    sign_out(page)
    sign_in(page, retention_site, "rm1")
    page.goto(retention_site.url + "/retention")
    page.get_by_role("link", name="Review queue").click()
    expect(page.get_by_text("Nothing awaits review.")).to_be_visible()
    sign_out(page)
    sign_in(page, retention_site, "admin")
    page.goto(retention_site.url + "/audit")
    expect(page.get_by_role("row").filter(has_text="review_item.decide")
           ).to_contain_text("alex")


def test_a_records_manager_decides_a_flagged_file(page: Page, retention_site: Site) -> None:
    sign_in(page, retention_site, "rm1")
    page.get_by_role("link", name="Retention", exact=True).click()
    page.get_by_role("link", name="Review queue").click()
    expect(page.get_by_role("heading", name="Disposition review")).to_be_visible()
    page.get_by_role("link", name="100000").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Alex0 Smith")
    page.get_by_label("Music/song.mp3").check()
    page.get_by_label("Decision", exact=True).select_option(label="Dispose")
    # A justification is required: the browser refuses the empty field.
    page.get_by_role("button", name="Decide the chosen files").click()
    expect(page.get_by_label("Music/song.mp3")).to_be_checked()
    page.get_by_label("Justification", exact=True).fill("personal music is not a record")
    page.get_by_role("button", name="Decide the chosen files").click()
    expect(page.get_by_text("Nothing awaits review.")).to_be_visible()
    page.get_by_role("link", name="Review queue").click()
    expect(page.get_by_text("Nothing awaits review.")).to_be_visible()


def test_a_disposal_batch_is_proposed_by_one_and_approved_by_another(
        page: Page, retention_site: Site) -> None:
    sign_in(page, retention_site, "rm1")
    page.get_by_role("link", name="Retention", exact=True).click()
    page.get_by_role("link", name="Disposal", exact=True).click()
    page.get_by_role("button", name="Propose").click()
    # Proposing runs in the background: the page shows the job as it runs, reloads itself
    # when it ends (/static/live.js) and then names the batch.
    expect(page.get_by_role("heading", name="Proposing a batch")).to_be_visible()
    expect(page.get_by_text("Disposal batch 1 proposed: 1 file.")).to_be_visible(
        timeout=30_000)
    assert_accessible(page)
    page.get_by_role("link", name="See batch 1").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Disposal batch 1: proposed")
    expect(page.get_by_role("cell", name="scratch/build.tmp")).to_be_visible()
    assert_accessible(page)
    # The proposer is told another records manager must approve, and offered no button.
    expect(page.get_by_text("must come from a records manager other than rm1")).to_be_visible()
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    sign_out(page)

    sign_in(page, retention_site, "rm2")
    page.get_by_role("link", name="Retention", exact=True).click()
    page.get_by_role("link", name="Disposal", exact=True).click()
    page.get_by_role("link", name="1", exact=True).click()
    page.get_by_label("Reason (optional)").fill("checked against the schedule")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Disposal batch 1: approved")
    expect(page.get_by_role("main").get_by_text("rm2", exact=True)).to_be_visible()
    page.get_by_role("button", name="Execute: delete the files").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Disposal batch 1: executed")
    page.get_by_role("link", name="Certificate of disposal").click()
    expect(page.get_by_text("scratch/build.tmp")).to_be_visible()
    home = Path(retention_site.settings.home_root) / "asmith0"
    assert not (home / "scratch/build.tmp").exists()
    assert (home / "Music/song.mp3").exists() and (home / "Documents/plan.docx").exists()


def test_wrong_password_shows_an_error(page: Page, site: Site) -> None:
    page.goto(site.url + "/login")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("not it at all")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("wrong username or password")
