"""Where a debtor may be: the phones' zones and the candidate set (pure, no database)."""

from __future__ import annotations

import phonenumbers
import pytest
from phonenumbers import PhoneNumberFormat, PhoneNumberType, timezone

from debtors import zones
from debtors.zones import candidate_zones, phone_zones, zones_from_text, zones_text

TYPES = [PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE,
         PhoneNumberType.TOLL_FREE, PhoneNumberType.PREMIUM_RATE, PhoneNumberType.VOIP, PhoneNumberType.UAN]


def _examples() -> list[str]:
    numbers = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in TYPES:
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                numbers.append(phonenumbers.format_number(example, PhoneNumberFormat.E164))
    return numbers


def test_the_prefix_cache_agrees_with_libphonenumber_on_every_region_and_type():
    zones._cache.clear()
    examples = _examples()
    assert len(examples) > 1000
    # Twice: the first pass fills the cache, the second reads it.
    for _round in range(2):
        for number in examples:
            expected = tuple(z for z in timezone.time_zones_for_number(phonenumbers.parse(number)) if z != "Etc/Unknown")
            assert phone_zones(number) == expected, number


def test_the_cache_key_reaches_as_deep_as_the_zone_table():
    zones._cache.clear()
    # Same length and first 7 digits (+61 2 5505…), but the table tells Lord Howe Island from
    # Sydney by the 8th digit.
    assert phone_zones("+61255050123") == ("Australia/Sydney",)
    assert phone_zones("+61255053123") == ("Australia/Lord_Howe",)
    assert phone_zones("+61255050456") == ("Australia/Sydney",)


@pytest.mark.parametrize(
    "number, expected",
    [
        # A Spanish mobile may ring anywhere in Spain: the peninsula or the Canaries.
        ("+34612345678", ("Atlantic/Canary", "Europe/Madrid")),
        ("+13125550123", ("America/Chicago",)),
        ("+525512345678", ("America/Mexico_City",)),
        # Not a number (an anonymised contact point): nowhere.
        ("anonymised-12", ()),
        ("+999", ()),
    ],
)
def test_phone_zones(number, expected):
    assert phone_zones(number) == expected


def test_candidates_are_the_zone_and_the_zones_of_phones_elsewhere_until_confirmed():
    phones = ["+12125550123", "+13125550123", "+34612345678"]
    assert candidate_zones(timezone="America/New_York", confirmed=False, phones=phones) == (
        "America/Chicago", "America/New_York", "Atlantic/Canary", "Europe/Madrid")
    assert candidate_zones(timezone="America/New_York", confirmed=True, phones=phones) == ("America/New_York",)
    assert candidate_zones(timezone="Europe/Madrid", confirmed=False, phones=[]) == ("Europe/Madrid",)
    # A phone whose zones include the recorded one agrees with it and adds nothing.
    assert candidate_zones(timezone="Europe/Madrid", confirmed=False, phones=["+34612345678"]) == ("Europe/Madrid",)
    assert candidate_zones(timezone="Atlantic/Canary", confirmed=False, phones=["+34612345678", "+12125550123"]) == (
        "America/New_York", "Atlantic/Canary")


def test_zones_text_round_trip():
    assert zones_text(("America/Chicago", "America/New_York")) == "America/Chicago,America/New_York"
    assert zones_from_text("America/Chicago,America/New_York") == ("America/Chicago", "America/New_York")
    assert zones_from_text("") == ()
