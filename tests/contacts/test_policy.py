"""Table-driven tests of the pure contact-policy engine (no database)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from contacts.engine import policy
from contacts.engine.policy import ContactHistory, DebtorInfo, PackRules, PointInfo, can_contact

UTC = dt.UTC

SPAIN = PackRules(code="es", start_time=dt.time(9), end_time=dt.time(21), weekdays=frozenset({1, 2, 3, 4, 5}),
                  skip_holidays=True, holiday_country="ES", max_contacts_per_day=2)
US = PackRules(code="us", start_time=dt.time(8), end_time=dt.time(21), max_calls_per_case_7d=7,
               pause_days_after_conversation=7)
MEXICO = PackRules(code="mx", start_time=dt.time(7), end_time=dt.time(22))

MADRID = DebtorInfo(timezone="Europe/Madrid")
NEW_YORK = DebtorInfo(timezone="America/New_York")
MEXICO_CITY = DebtorInfo(timezone="America/Mexico_City")


def u(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    "pack, debtor, channel, at, allowed, reason, next_at",
    [
        # Spain: Wednesday 11:00 Madrid (10:00 UTC in winter) is fine.
        (SPAIN, MADRID, "phone", u(2026, 11, 25, 10, 0), True, "", None),
        # 08:30 Madrid → 09:00 the same day.
        (SPAIN, MADRID, "phone", u(2026, 11, 25, 7, 30), False, policy.OUTSIDE_HOURS, u(2026, 11, 25, 8, 0)),
        # 21:30 Madrid → 09:00 the next day.
        (SPAIN, MADRID, "sms", u(2026, 11, 25, 20, 30), False, policy.OUTSIDE_HOURS, u(2026, 11, 26, 8, 0)),
        # Saturday → Monday 09:00.
        (SPAIN, MADRID, "email", u(2026, 11, 28, 10, 0), False, policy.WEEKDAY, u(2026, 11, 30, 8, 0)),
        # Friday after hours → Monday 09:00 (the weekend is skipped too).
        (SPAIN, MADRID, "phone", u(2026, 11, 27, 21, 0), False, policy.OUTSIDE_HOURS, u(2026, 11, 30, 8, 0)),
        # 8 December (Inmaculada Concepción), a Tuesday → Wednesday 09:00.
        (SPAIN, MADRID, "phone", u(2026, 12, 8, 10, 0), False, policy.HOLIDAY, u(2026, 12, 9, 8, 0)),
        # 7 December, the day before: 20:59 Madrid ok, 21:00 refused and the holiday is skipped.
        (SPAIN, MADRID, "phone", u(2026, 12, 7, 19, 59), True, "", None),
        (SPAIN, MADRID, "phone", u(2026, 12, 7, 20, 0), False, policy.OUTSIDE_HOURS, u(2026, 12, 9, 8, 0)),
        # Summer time in Madrid (UTC+2): 09:00 local is 07:00 UTC.
        (SPAIN, MADRID, "phone", u(2026, 6, 10, 6, 59), False, policy.OUTSIDE_HOURS, u(2026, 6, 10, 7, 0)),
        (SPAIN, MADRID, "phone", u(2026, 6, 10, 7, 0), True, "", None),
        # Letters are posted in batches: not bound by the hours.
        (SPAIN, MADRID, "letter", u(2026, 11, 28, 23, 0), True, "", None),
        # United States, DST start on Sunday 8 March 2026 (weekends allowed under Regulation F).
        (US, NEW_YORK, "phone", u(2026, 3, 7, 12, 30), False, policy.OUTSIDE_HOURS, u(2026, 3, 7, 13, 0)),  # 07:30 EST
        (US, NEW_YORK, "phone", u(2026, 3, 7, 13, 0), True, "", None),  # 08:00 EST
        (US, NEW_YORK, "phone", u(2026, 3, 8, 11, 30), False, policy.OUTSIDE_HOURS, u(2026, 3, 8, 12, 0)),  # 07:30 EDT
        (US, NEW_YORK, "phone", u(2026, 3, 8, 12, 30), True, "", None),  # 08:30 EDT, the same UTC time refused a day earlier
        (US, NEW_YORK, "phone", u(2026, 3, 9, 0, 59), True, "", None),  # 20:59 EDT
        (US, NEW_YORK, "phone", u(2026, 3, 9, 1, 0), False, policy.OUTSIDE_HOURS, u(2026, 3, 9, 12, 0)),  # 21:00 EDT
        # DST end on Sunday 1 November 2026: 08:00 EST is 13:00 UTC again.
        (US, NEW_YORK, "phone", u(2026, 11, 1, 12, 30), False, policy.OUTSIDE_HOURS, u(2026, 11, 1, 13, 0)),
        (US, NEW_YORK, "phone", u(2026, 10, 31, 12, 30), True, "", None),  # 08:30 EDT the day before
        # Mexico: 07:00–22:00, every day.
        (MEXICO, MEXICO_CITY, "phone", u(2026, 11, 29, 12, 59), False, policy.OUTSIDE_HOURS, u(2026, 11, 29, 13, 0)),
        (MEXICO, MEXICO_CITY, "phone", u(2026, 11, 29, 13, 0), True, "", None),  # Sunday 07:00
        (MEXICO, MEXICO_CITY, "phone", u(2026, 11, 30, 3, 59), True, "", None),  # 21:59
        (MEXICO, MEXICO_CITY, "phone", u(2026, 11, 30, 4, 0), False, policy.OUTSIDE_HOURS, u(2026, 11, 30, 13, 0)),
    ],
)
def test_hours_weekdays_holidays_and_dst(pack, debtor, channel, at, allowed, reason, next_at):
    decision = can_contact(debtor=debtor, case_status="active", channel=channel, at=at, pack=pack)
    assert (decision.allowed, decision.reason, decision.next_allowed_at if not allowed else None) == (allowed, reason, next_at)


NOON_NY = u(2026, 11, 18, 17, 0)  # Wednesday 18 November 2026, 12:00 in New York
NY_ZONE = ZoneInfo("America/New_York")


def ny(*args) -> dt.datetime:
    """A wall-clock time in New York, as UTC."""
    return dt.datetime(*args, tzinfo=NY_ZONE).astimezone(UTC)


# Regulation F counts the day of the call and the six calendar days before it in the debtor's
# zone: at NOON_NY, Thursday 12 November to Wednesday 18 November.
SIX_THIS_WEEK = (ny(2026, 11, 13, 10), ny(2026, 11, 14, 10), ny(2026, 11, 15, 10), ny(2026, 11, 16, 10),
                 ny(2026, 11, 17, 10), ny(2026, 11, 18, 9))


@pytest.mark.parametrize(
    "calls, allowed, next_at, left",
    [
        # 6 calls in the window: a 7th is allowed, and then no more.
        (SIX_THIS_WEEK, True, None, 1),
        # A 7th on the window's first day, even at 00:01: refused until that day leaves the
        # window, at midnight, so from 08:00 on Thursday 19 November.
        ((*SIX_THIS_WEEK, ny(2026, 11, 12, 0, 1)), False, ny(2026, 11, 19, 8), 0),
        ((*SIX_THIS_WEEK, ny(2026, 11, 12, 23, 59)), False, ny(2026, 11, 19, 8), 0),
        # 6 days and 12 hours ago, but on the day before the window: it does not count (a rolling
        # 168-hour window would have counted it).
        ((*SIX_THIS_WEEK, ny(2026, 11, 11, 23, 59)), True, None, 1),
        # 8 calls in 7 calendar days (two on the 13th): on the 19th the window still holds 7, so
        # the next call waits for Friday 20 November.
        ((*SIX_THIS_WEEK, ny(2026, 11, 12, 10), ny(2026, 11, 13, 11)), False, ny(2026, 11, 20, 8), 0),
        # Calls from later than the moment checked are not history yet.
        ((*SIX_THIS_WEEK, ny(2026, 11, 18, 15)), True, None, 1),
    ],
)
def test_seven_calls_in_seven_calendar_days(calls, allowed, next_at, left):
    history = ContactHistory(case_calls=calls)
    decision = can_contact(debtor=NEW_YORK, case_status="active", channel="phone", at=NOON_NY, pack=US, history=history)
    assert (decision.allowed, decision.calls_left_week) == (allowed, left)
    if not allowed:
        assert (decision.reason, decision.next_allowed_at) == (policy.WEEKLY_CALL_CAP, next_at)
        # The moment reported is allowed; the minute before it is not.
        later = can_contact(debtor=NEW_YORK, case_status="active", channel="phone", at=next_at, pack=US, history=history)
        assert later.allowed
        assert not can_contact(debtor=NEW_YORK, case_status="active", channel="phone", at=next_at - dt.timedelta(minutes=1),
                               pack=US, history=history).allowed


def test_weekly_cap_next_moment_respects_hours():
    # Tuesday 17 November, 20:00 in New York; the oldest of 7 calls, on the 11th, leaves the
    # window at midnight, so the next call waits for 08:00 EST on Wednesday (13:00 UTC).
    at = ny(2026, 11, 17, 20)
    history = ContactHistory(case_calls=(ny(2026, 11, 11, 9), *[at - dt.timedelta(hours=h) for h in range(1, 7)]))
    decision = can_contact(debtor=NEW_YORK, case_status="active", channel="phone", at=at, pack=US, history=history)
    assert (decision.allowed, decision.reason, decision.next_allowed_at) == (False, policy.WEEKLY_CALL_CAP, u(2026, 11, 18, 13, 0))


@pytest.mark.parametrize(
    "calls, at, allowed, next_at",
    [
        # DST starts on Sunday 8 March 2026. A call at 22:30 EST on Sunday 1 March is on 2 March
        # in UTC but on 1 March in New York: outside the window of 2-8 March.
        ((ny(2026, 3, 1, 22, 30), *[ny(2026, 3, d, 12) for d in range(3, 9)]), ny(2026, 3, 8, 12), True, None),
        # At 00:30 EST on 2 March it is in the window; the next call is on 9 March at 08:00 EDT
        # (12:00 UTC, an hour earlier in UTC than a week before).
        ((ny(2026, 3, 2, 0, 30), *[ny(2026, 3, d, 12) for d in range(3, 9)]), ny(2026, 3, 8, 12), False, u(2026, 3, 9, 12, 0)),
        # DST ends on Sunday 1 November 2026. 23:30 EDT on Saturday 31 October is 1 November in
        # UTC: outside the window of 1-7 November.
        ((ny(2026, 10, 31, 23, 30), *[ny(2026, 11, d, 12) for d in range(1, 7)]), ny(2026, 11, 7, 12), True, None),
        # The repeated hour of 1 November (01:30 EST, the second one) is on 1 November.
        ((dt.datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=NY_ZONE).astimezone(UTC), *[ny(2026, 11, d, 12) for d in range(2, 8)]),
         ny(2026, 11, 7, 12), False, u(2026, 11, 8, 13, 0)),
    ],
)
def test_call_window_counts_new_york_calendar_days_across_dst(calls, at, allowed, next_at):
    decision = can_contact(debtor=NEW_YORK, case_status="active", channel="phone", at=at, pack=US,
                           history=ContactHistory(case_calls=calls))
    assert (decision.allowed, decision.next_allowed_at if not allowed else None) == (allowed, next_at)


# A telephone conversation on Monday 16 November 2026 (day 1) blocks calls through Sunday the
# 22nd (day 7); on Monday the 23rd (day 8) calls are allowed from the window's opening, 08:00.
@pytest.mark.parametrize(
    "talked, channel, at, allowed, reason, next_at",
    [
        (ny(2026, 11, 16, 9), "phone", ny(2026, 11, 23, 8), True, "", None),
        (ny(2026, 11, 16, 9), "phone", ny(2026, 11, 23, 7, 59), False, policy.OUTSIDE_HOURS, ny(2026, 11, 23, 8)),
        (ny(2026, 11, 16, 9), "phone", ny(2026, 11, 22, 20, 59), False, policy.CONVERSATION_PAUSE, ny(2026, 11, 23, 8)),
        (ny(2026, 11, 16, 9), "phone", ny(2026, 11, 16, 10), False, policy.CONVERSATION_PAUSE, ny(2026, 11, 23, 8)),
        # A conversation at 23:00 (the debtor called late) is still on day 1: the pause ends with
        # the 22nd, not 7×24 hours later at 23:00 on the 23rd.
        (ny(2026, 11, 16, 23), "phone", ny(2026, 11, 23, 8), True, "", None),
        (ny(2026, 11, 16, 23), "phone", ny(2026, 11, 22, 12), False, policy.CONVERSATION_PAUSE, ny(2026, 11, 23, 8)),
        # A conversation at 08:00 does not gain the pause a day (day 1 is its own day).
        (ny(2026, 11, 16, 8), "phone", ny(2026, 11, 23, 8), True, "", None),
        # DST ends on 1 November: a conversation at 20:00 EDT on 31 October (1 November in UTC)
        # is on 31 October; calls resume on 7 November at 08:00 EST.
        (ny(2026, 10, 31, 20), "phone", ny(2026, 11, 7, 8), True, "", None),
        (ny(2026, 10, 31, 20), "phone", ny(2026, 11, 6, 20), False, policy.CONVERSATION_PAUSE, u(2026, 11, 7, 13, 0)),
        # Regulation F's pause is about telephone calls.
        (ny(2026, 11, 16, 9), "sms", ny(2026, 11, 17, 10), True, "", None),
    ],
)
def test_pause_after_a_telephone_conversation_in_calendar_days(talked, channel, at, allowed, reason, next_at):
    history = ContactHistory(last_conversation_at=talked)
    decision = can_contact(debtor=NEW_YORK, case_status="active", channel=channel, at=at, pack=US, history=history)
    assert (decision.allowed, decision.reason, decision.next_allowed_at if not allowed else None) == (allowed, reason, next_at)


NY_OR_LA = DebtorInfo(timezone="America/New_York", zones=("America/Los_Angeles", "America/New_York"))
MADRID_OR_NY = DebtorInfo(timezone="Europe/Madrid", zones=("America/New_York", "Europe/Madrid"))
SHORT_MORNINGS = PackRules(code="short", start_time=dt.time(9), end_time=dt.time(12))


@pytest.mark.parametrize(
    "pack, debtor, at, allowed, reason, next_at",
    [
        # Uncertain between New York and Los Angeles: 08:30 in New York is 05:30 in Los Angeles,
        # so the first lawful minute is 08:00 in Los Angeles (11:00 in New York).
        (US, NY_OR_LA, ny(2026, 11, 18, 8, 30), False, policy.OUTSIDE_HOURS, ny(2026, 11, 18, 11)),
        (US, NY_OR_LA, ny(2026, 11, 18, 11), True, "", None),
        # 20:59 in New York (17:59 in Los Angeles) is fine; at 21:00 New York closes, and the next
        # day waits for Los Angeles again.
        (US, NY_OR_LA, ny(2026, 11, 18, 20, 59), True, "", None),
        (US, NY_OR_LA, ny(2026, 11, 18, 21), False, policy.OUTSIDE_HOURS, ny(2026, 11, 19, 11)),
        # Once the zone is confirmed, only that zone counts.
        (US, NEW_YORK, ny(2026, 11, 18, 8, 30), True, "", None),
        (US, DebtorInfo(timezone="America/New_York", zones=("America/New_York",)), ny(2026, 11, 18, 8, 30), True, "", None),
        # Madrid or New York under the Spanish pack (09:00-21:00, Monday to Friday): 11:00 in
        # Madrid is 05:00 in New York; both windows are open from 15:00 Madrid (09:00 New York).
        (SPAIN, MADRID_OR_NY, u(2026, 11, 25, 10, 0), False, policy.OUTSIDE_HOURS, u(2026, 11, 25, 14, 0)),
        # Friday 20:30 in Madrid, 14:30 in New York: open in both.
        (SPAIN, MADRID_OR_NY, u(2026, 11, 27, 19, 30), True, "", None),
        # Friday 21:00 in Madrid: the weekend in Madrid, then Monday 15:00 Madrid.
        (SPAIN, MADRID_OR_NY, u(2026, 11, 27, 20, 0), False, policy.OUTSIDE_HOURS, u(2026, 11, 30, 14, 0)),
        # Zones 12 hours apart (New York, Bangkok) with 08:00-21:00 windows overlap twice a day:
        # at noon in New York (midnight in Bangkok) the next is 20:00 New York, 08:00 Bangkok.
        (US, DebtorInfo(timezone="America/New_York", zones=("Asia/Bangkok",)), NOON_NY, False, policy.OUTSIDE_HOURS,
         ny(2026, 11, 18, 20)),
        # Windows that never overlap (09:00-12:00 in Madrid and in Auckland, 12 hours ahead):
        # refused with no next moment, not an endless search.
        (SHORT_MORNINGS, DebtorInfo(timezone="Europe/Madrid", zones=("Pacific/Auckland",)), u(2026, 11, 25, 9, 0),
         False, policy.OUTSIDE_HOURS, None),
    ],
)
def test_hour_rules_hold_in_every_candidate_zone(pack, debtor, at, allowed, reason, next_at):
    decision = can_contact(debtor=debtor, case_status="active", channel="phone", at=at, pack=pack)
    assert (decision.allowed, decision.reason, decision.next_allowed_at if not allowed else None) == (allowed, reason, next_at)


@pytest.mark.parametrize(
    "debtor, allowed",
    [
        # 22:30 on 11 November in Los Angeles is 01:30 on 12 November in New York: with New York
        # as the primary zone that call is inside the window of 12-18 November, with Los Angeles
        # as the primary zone it is not (the candidates are the same).
        (NY_OR_LA, False),
        (DebtorInfo(timezone="America/Los_Angeles", zones=("America/Los_Angeles", "America/New_York")), True),
    ],
)
def test_counting_rules_use_the_primary_zone(debtor, allowed):
    oldest = dt.datetime(2026, 11, 11, 22, 30, tzinfo=ZoneInfo("America/Los_Angeles"))
    history = ContactHistory(case_calls=(oldest, *SIX_THIS_WEEK))
    at = ny(2026, 11, 18, 13)  # 10:00 in Los Angeles: inside both windows
    decision = can_contact(debtor=debtor, case_status="active", channel="phone", at=at, pack=US, history=history)
    assert (decision.allowed, decision.calls_left_week) == (allowed, 1 if allowed else 0)


def test_daily_cap_counts_the_debtors_local_day():
    at = u(2026, 11, 25, 15, 0)  # Wednesday 16:00 Madrid
    today = (u(2026, 11, 25, 9, 0), u(2026, 11, 25, 10, 0))
    yesterday_late = (u(2026, 11, 24, 22, 30),)  # 23:30 Madrid on Tuesday: not today
    refused = can_contact(debtor=MADRID, case_status="active", channel="phone", at=at, pack=SPAIN,
                          history=ContactHistory(debtor_contacts=today))
    assert (refused.allowed, refused.reason, refused.next_allowed_at) == (False, policy.DAILY_CAP, u(2026, 11, 26, 8, 0))
    allowed = can_contact(debtor=MADRID, case_status="active", channel="phone", at=at, pack=SPAIN,
                          history=ContactHistory(debtor_contacts=today[:1] + yesterday_late))
    assert allowed.allowed


@pytest.mark.parametrize(
    "debtor, status, point, channel, reason",
    [
        (DebtorInfo(cease_communication=True), "active", None, "phone", policy.CEASE),
        (DebtorInfo(do_not_contact=True), "active", None, "email", policy.DO_NOT_CONTACT),
        (DebtorInfo(attorney_represented=True), "active", None, "letter", policy.ATTORNEY),
        (DebtorInfo(deceased=True), "active", None, "phone", policy.DECEASED),
        (DebtorInfo(bankruptcy=True), "active", None, "phone", policy.BANKRUPTCY),
        (MADRID, "disputed", None, "phone", policy.CASE_PAUSED),
        (MADRID, "on_hold", None, "email", policy.CASE_PAUSED),
        (MADRID, "paid", None, "phone", policy.CASE_CLOSED),
        (MADRID, "active", PointInfo(opted_out=True, consent=True), "email", policy.POINT_OPTED_OUT),
        (MADRID, "active", PointInfo(do_not_contact=True, consent=True), "phone", policy.POINT_DO_NOT_CONTACT),
        (MADRID, "active", PointInfo(consent=False), "sms", policy.NO_CONSENT),
    ],
)
def test_blocking_reasons_have_no_next_moment(debtor, status, point, channel, reason):
    # Even inside the hours: these are refused until a flag or the status changes.
    decision = can_contact(debtor=debtor, case_status=status, channel=channel, at=u(2026, 11, 25, 10, 0), pack=SPAIN, point=point)
    assert (decision.allowed, decision.reason, decision.next_allowed_at) == (False, reason, None)


def test_email_needs_no_consent_but_sms_does():
    at = u(2026, 11, 25, 10, 0)
    point = PointInfo(consent=False)
    assert can_contact(debtor=MADRID, case_status="active", channel="email", at=at, pack=SPAIN, point=point).allowed
    assert not can_contact(debtor=MADRID, case_status="active", channel="sms", at=at, pack=SPAIN, point=point).allowed
