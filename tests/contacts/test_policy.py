"""Table-driven tests of the pure contact-policy engine (no database)."""

from __future__ import annotations

import datetime as dt

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


NOON_NY = u(2026, 11, 18, 17, 0)  # Wednesday 12:00 in New York


@pytest.mark.parametrize(
    "calls_ago_hours, allowed, next_at, left",
    [
        # 6 calls in the window: a 7th is allowed, and then no more.
        ([1, 2, 3, 24, 48, 72], True, None, 1),
        # 7 calls, the oldest 7 days minus one minute ago: refused until it leaves the window.
        ([1, 2, 3, 24, 48, 72, 7 * 24 - 1 / 60], False, NOON_NY + dt.timedelta(minutes=1), 0),
        # 7 calls, the oldest exactly 7 days ago: it has left the rolling window.
        ([1, 2, 3, 24, 48, 72, 7 * 24], True, None, 1),
        # 8 calls: allowed again when the second oldest leaves (the window must drop to 6).
        ([1, 2, 3, 24, 48, 72, 100, 150], False, NOON_NY - dt.timedelta(hours=100) + policy.WEEK, 0),
    ],
)
def test_seven_calls_in_seven_days_boundary(calls_ago_hours, allowed, next_at, left):
    history = ContactHistory(case_calls=tuple(NOON_NY - dt.timedelta(hours=h) for h in calls_ago_hours))
    decision = can_contact(debtor=NEW_YORK, case_status="active", channel="phone", at=NOON_NY, pack=US, history=history)
    assert decision.allowed is allowed
    assert decision.calls_left_week == left
    if not allowed:
        assert decision.reason == policy.WEEKLY_CALL_CAP
        assert decision.next_allowed_at == next_at


def test_weekly_cap_next_moment_respects_hours():
    # Tuesday 20:00 in New York; the oldest of 7 calls leaves the window at 02:00 on Wednesday,
    # so the next call waits for 08:00 EST (13:00 UTC).
    at = u(2026, 11, 18, 1, 0)
    oldest = u(2026, 11, 11, 7, 0)
    history = ContactHistory(case_calls=(oldest, *[at - dt.timedelta(hours=h) for h in range(1, 7)]))
    decision = can_contact(debtor=NEW_YORK, case_status="active", channel="phone", at=at, pack=US, history=history)
    assert (decision.allowed, decision.reason, decision.next_allowed_at) == (False, policy.WEEKLY_CALL_CAP, u(2026, 11, 18, 13, 0))


@pytest.mark.parametrize(
    "days_ago, channel, allowed, reason",
    [
        (6, "phone", False, policy.CONVERSATION_PAUSE),
        (7, "phone", True, ""),
        (1, "sms", True, ""),  # Regulation F's pause is about telephone calls
    ],
)
def test_pause_after_a_telephone_conversation(days_ago, channel, allowed, reason):
    talked = NOON_NY - dt.timedelta(days=days_ago)
    history = ContactHistory(last_conversation_at=talked)
    decision = can_contact(debtor=NEW_YORK, case_status="active", channel=channel, at=NOON_NY, pack=US, history=history)
    assert (decision.allowed, decision.reason) == (allowed, reason)
    if not allowed:
        assert decision.next_allowed_at == talked + dt.timedelta(days=7)


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
