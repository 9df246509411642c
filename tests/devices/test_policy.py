"""Acceptable-use policy versions and signatures: the version in force, one signature per
person, handset and version, a new version asks every holder again."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from mobilise.core.actor import Actor
from mobilise.core.errors import Conflict, InvalidInput, NotFound
from mobilise.devices import policy
from mobilise.devices.models import HandsetStatus
from tests.devices.fleet import Fleet
from tests.factories import ADMIN

HOLDER = Actor("holder")


def test_the_version_in_force_is_the_latest_whose_day_has_come(fleet: Fleet) -> None:
    s, clock = fleet.session, fleet.clock
    assert policy.current_version(s, clock) is None
    v1 = policy.publish_version(s, ADMIN, clock, "1.0", "First.", clock.today())
    policy.publish_version(s, ADMIN, clock, "2.0", "Second.", clock.today() + timedelta(days=7))
    assert policy.current_version(s, clock) is v1
    assert v1.sha256 == hashlib.sha256(b"First.").hexdigest()
    with pytest.raises(Conflict, match="already published"):
        policy.publish_version(s, ADMIN, clock, "1.0", "Other.", clock.today())


def test_bad_versions_are_refused(fleet: Fleet) -> None:
    for version, text in (("", "x"), ("x" * 21, "x"), ("3.0", "  ")):
        with pytest.raises(InvalidInput):
            policy.publish_version(fleet.session, ADMIN, fleet.clock, version, text)


def test_one_signature_per_person_handset_and_version(fleet: Fleet) -> None:
    s, clock = fleet.session, fleet.clock
    handset = fleet.by_state[HandsetStatus.ISSUED]
    holder = handset.holder
    assert holder is not None
    with pytest.raises(InvalidInput, match="no acceptable-use policy"):
        policy.accept(s, HOLDER, clock, holder, handset, "own-device")
    policy.publish_version(s, ADMIN, clock, "1.0", "First.", clock.today())
    assert policy.pending_handsets(s, clock, holder.id) == [handset]
    row = policy.accept(s, HOLDER, clock, holder, handset, "own-device")
    assert (row.text_sha256, row.signed_by) == (hashlib.sha256(b"First.").hexdigest(), "holder")
    with pytest.raises(Conflict, match="already accepted"):
        policy.accept(s, HOLDER, clock, holder, handset, "desk-screen")
    assert policy.pending_handsets(s, clock, holder.id) == []
    status = policy.acceptance_status(s, clock)
    assert (status.accepted, len(status.rows)) == (1, 1)
    # A new version in force: the holder is asked again.
    policy.publish_version(s, ADMIN, clock, "2.0", "Second.", clock.today())
    assert policy.pending_handsets(s, clock, holder.id) == [handset]
    assert policy.acceptance_status(s, clock).accepted == 0


def test_only_the_holder_signs_and_only_where_it_is_known(fleet: Fleet) -> None:
    s, clock = fleet.session, fleet.clock
    policy.publish_version(s, ADMIN, clock, "1.0", "First.", clock.today())
    handset = fleet.by_state[HandsetStatus.ISSUED]
    someone_else = next(p for p in fleet.people if p.id != handset.holder_id)
    with pytest.raises(NotFound):
        policy.accept(s, HOLDER, clock, someone_else, handset, "own-device")
    assert handset.holder is not None
    with pytest.raises(InvalidInput, match="signed how"):
        policy.accept(s, HOLDER, clock, handset.holder, handset, "by post")
