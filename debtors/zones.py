"""Where a debtor may be: the candidate time zones of the contact-hour rules (pure, no ORM).

Until a person confirms the debtor's zone, the law's safe reading is that the hour rules must
hold in every zone the debtor may be in: their recorded zone (Debtor.timezone) and the zones of
every phone the collector might call that points elsewhere, as libphonenumber gives them (a New
York debtor with a Los Angeles number is checked in both). A phone whose zones include the
recorded one agrees with it and adds nothing: a Spanish mobile "may ring in Madrid or the
Canaries" for the library, which says nothing against a debtor recorded in Madrid; a US area code
that spans two zones, one of them the recorded one, likewise. A confirmed debtor has their
confirmed zone only. debtors.services.debtor_zones_refresh keeps the denormalised
``Debtor.candidate_timezones`` in step with this rule.
"""

from __future__ import annotations

from collections.abc import Iterable

import phonenumbers
from phonenumbers import timezone as phone_timezone
from phonenumbers.tzdata import TIMEZONE_DATA, TIMEZONE_LONGEST_PREFIX

SEPARATOR = ","
UNKNOWN_ZONE = "Etc/Unknown"

# libphonenumber costs 20-40 µs a number (parsing, then the number's type: mobile, fixed,
# toll-free…), too much for a portfolio of a million phones. A number's zones follow from its
# type and its longest prefix in the zone table; the type of a valid number from its length
# and leading digits. So numbers of one length that share their first KEY_DIGITS digits
# (country code included: a NANP area code and exchange) share their zones, unless the zone
# table itself goes deeper for them, in which case the key takes every digit the table can
# look at. Checked against the library over 190,000 valid numbers of every region and type:
# no disagreement (tests/debtors/test_zones.py keeps checking a sample).
KEY_DIGITS = 7
_DEEP_ROOTS = frozenset(prefix[:KEY_DIGITS] for prefix in TIMEZONE_DATA if len(prefix) > KEY_DIGITS)
_CACHE_MAX = 200_000
_cache: dict[tuple[str, int], tuple[str, ...]] = {}


def _library_zones(number: str) -> tuple[str, ...]:
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return ()
    return tuple(z for z in phone_timezone.time_zones_for_number(parsed) if z != UNKNOWN_ZONE)


def phone_zones(number: str) -> tuple[str, ...]:
    """The zones a phone number (E.164) may ring in, as libphonenumber says; () for a value
    that is not a number (an anonymised placeholder) or one the library cannot place."""
    if not number.startswith("+"):
        return ()
    digits = number[1:1 + KEY_DIGITS]
    key = (number[:1 + TIMEZONE_LONGEST_PREFIX] if digits in _DEEP_ROOTS else number[:1 + KEY_DIGITS], len(number))
    zones = _cache.get(key)
    if zones is None:
        zones = _library_zones(number)
        if len(_cache) >= _CACHE_MAX:
            _cache.clear()
        _cache[key] = zones
    return zones


def candidate_zones(*, timezone: str, confirmed: bool, phones: Iterable[str]) -> tuple[str, ...]:
    """The zones the hour rules must hold in, sorted: the confirmed zone alone, else the
    recorded zone and the zones of every phone that points elsewhere (whatever its flags: a
    number marked not to be used still tells where the debtor may be)."""
    if confirmed:
        return (timezone,)
    return merge_zones(timezone, (phone_zones(number) for number in phones))


def merge_zones(timezone: str, phone_zone_sets: Iterable[Iterable[str]]) -> tuple[str, ...]:
    """The recorded zone and the zones of the phones that disagree with it (sorted)."""
    zones = {timezone}
    for phone in phone_zone_sets:
        phone = tuple(phone)
        if timezone not in phone:
            zones.update(phone)
    return tuple(sorted(zones))


def zones_text(zones: Iterable[str]) -> str:
    """``Debtor.candidate_timezones`` for these zones."""
    return SEPARATOR.join(zones)


def zones_from_text(text: str) -> tuple[str, ...]:
    """The zones stored in ``Debtor.candidate_timezones``; () when none were worked out yet
    (the policy then uses the debtor's recorded zone alone)."""
    return tuple(z for z in (text or "").split(SEPARATOR) if z)
