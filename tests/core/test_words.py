"""Display labels, sizes and times: one place, used by every page and the demo."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from mobilise.core.clock import utc
from mobilise.core.words import counts_text, label, parse_size, size_text, when_text
from mobilise.drives.assess import FindingKind
from mobilise.migration.models import RoundKind


def test_internal_names_read_as_words() -> None:
    assert label("pre_seed") == label(RoundKind.PRE_SEED) == "pre-seed"
    assert label(FindingKind.VTI_IN_NAME) == "“_vti_” in the name"
    assert label("staging_never_signed_in") == "staged but nobody has signed in"
    assert label("migration_person") == "person's migration"
    assert label("some_new_state") == "some new state"  # never shown as snake_case
    for kind in FindingKind:
        assert "_" not in label(kind) or "_vti_" in label(kind) or "_files" in label(kind)


def test_sizes_scale_their_unit() -> None:
    assert size_text(183_600_000_000) == "184 GB"   # not 0.167 TB
    assert size_text(1_500) == "1.5 kB" and size_text(999) == "999 B"
    assert size_text(2 * 10**12) == "2.0 TB" and size_text(-5_000_000) == "-5.0 MB"


def test_moments_read_to_the_minute() -> None:
    moment = datetime(2026, 12, 7, 18, 11, 4, 123456, tzinfo=UTC)
    assert when_text(moment) == "2026-12-07 18:11"
    assert when_text(moment.isoformat()) == "2026-12-07 18:11"
    assert when_text(date(2026, 12, 7)) == "2026-12-07" and when_text(None) == "—"


def test_counts_in_words() -> None:
    assert counts_text({"added": 30, "changed": 0, "leavers": 2}) == "30 added, 2 leavers"
    assert counts_text({"enrolled_not_registered": 1}) == \
        "1 enrolled in Intune but not in the register"
    assert counts_text({"added": 0}) == "none"


def test_one_size_parser_reads_decimal_and_binary_units() -> None:
    """What rule sets (``10MB``, ``2GiB``) and laptop exports (``1,024``, ``850 MB``) write:
    one parser for both (each kept its own copy of the pattern before)."""
    assert parse_size("10MB") == 10_000_000 and parse_size("2GiB") == 2 * 2**30
    assert parse_size(" 1,024 ") == 1024 and parse_size("1.5 kib") == 1536
    for bad in ("lots", "", "10 XB", "-5 MB"):
        with pytest.raises(ValueError, match="is not a size"):
            parse_size(bad)


def test_one_utc_helper_gives_naive_times_their_zone_and_keeps_none() -> None:
    naive = datetime(2026, 12, 8, 9, 30)
    assert utc(naive) == datetime(2026, 12, 8, 9, 30, tzinfo=UTC)
    assert utc(utc(naive)) is not None and utc(None) is None
