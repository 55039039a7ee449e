"""The contact-policy engine: may we contact this debtor on this channel at this moment?

Pure: it takes plain data (the debtor's flags and zone, the case state, the jurisdiction pack's
rules, the recent contact timestamps it needs) and ``at``, and returns a decision with a reason
code and the next allowed moment. No ORM, no clock. engine/contact_policy.py builds the inputs.

Hours, weekdays and holidays are judged in the DEBTOR's local time (zoneinfo, so DST days are
right: 08:00 in New York is 13:00 UTC in winter and 12:00 UTC in summer), and in EVERY zone the
debtor may be in until their zone is confirmed (DebtorInfo.zones): a moment is allowed only if it
is inside the window in all of them.

The counting rules follow US Regulation F (12 CFR 1006.14(b)(2)) as written: seven consecutive
CALENDAR days in the debtor's local zone, not rolling 168-hour windows. At most N calls placed
by the collector on the debt within the 7 days ending on the day of the call, and none on the
day of a telephone conversation about the debt and the days after it up to the Nth, the
conversation's own day being day 1. Counting uses the debtor's primary zone (Debtor.timezone).
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from dataclasses import dataclass, field

import holidays as holidays_lib

# Reason codes (stable; the dashboard charts them).
CASE_CLOSED = "case_closed"
CASE_PAUSED = "case_paused"  # dispute or on hold
CEASE = "cease_communication"
DO_NOT_CONTACT = "do_not_contact"
ATTORNEY = "attorney_represented"
DECEASED = "deceased"
BANKRUPTCY = "bankruptcy"
POINT_OPTED_OUT = "point_opted_out"
POINT_DO_NOT_CONTACT = "point_do_not_contact"
POINT_UNUSABLE = "point_unusable"  # not a valid number or address (kept as written)
NO_CONSENT = "no_consent"
OUTSIDE_HOURS = "outside_hours"
WEEKDAY = "weekday_not_allowed"
HOLIDAY = "holiday"
WEEKLY_CALL_CAP = "weekly_call_cap"
CONVERSATION_PAUSE = "conversation_pause"
DAILY_CAP = "daily_cap"
PREFERRED_TIME = "preferred_time"  # a call outside the time of day the debtor asked for

# Refusals that no passing of time lifts: only a change of flags or status does.
BLOCKING = {CASE_CLOSED, CASE_PAUSED, CEASE, DO_NOT_CONTACT, ATTORNEY, DECEASED, BANKRUPTCY,
            POINT_OPTED_OUT, POINT_DO_NOT_CONTACT, POINT_UNUSABLE, NO_CONSENT}

WORKABLE_STATUSES = frozenset({"new", "active", "promised", "plan"})
PAUSED_STATUSES = frozenset({"disputed", "on_hold"})
# Regulation F's window: the day of the call and the six calendar days before it.
CALL_WINDOW_DAYS = 7
# Enough for every rule to settle when the zones' windows overlap on some allowed day (each
# round moves the moment to the latest opening among the zones that refuse it, or by whole days
# for the counting rules); zones whose windows never overlap run out of rounds and get a refusal
# with no next moment.
MAX_ROUNDS = 50


@dataclass(frozen=True)
class PackRules:
    """A jurisdiction pack as plain data (contacts.models.JurisdictionPack)."""

    code: str
    start_time: dt.time
    end_time: dt.time
    weekdays: frozenset[int] = frozenset({1, 2, 3, 4, 5, 6, 7})  # ISO: 1 = Monday
    skip_holidays: bool = False
    holiday_country: str = ""
    holiday_subdivision: str = ""
    hours_channels: frozenset[str] = frozenset({"phone", "sms", "email", "whatsapp", "visit"})
    max_calls_per_case_7d: int | None = None
    pause_days_after_conversation: int | None = None
    max_contacts_per_day: int | None = None
    consent_channels: frozenset[str] = frozenset({"sms", "whatsapp"})


@dataclass(frozen=True)
class DebtorInfo:
    """The debtor as the policy sees it. ``timezone`` is the primary zone (Debtor.timezone): the
    counting rules count its calendar days. ``zones`` are the candidate zones
    (Debtor.candidate_timezones), in all of which the hour, weekday and holiday rules must hold
    until the debtor's zone is confirmed; empty means ``timezone`` alone, which always counts."""

    timezone: str = "Europe/Madrid"
    zones: tuple[str, ...] = ()
    do_not_contact: bool = False
    cease_communication: bool = False
    attorney_represented: bool = False
    deceased: bool = False
    bankruptcy: bool = False
    # The debtor's preferred hours for calls, local [start, end) hours in ``timezone``; None: any.
    call_window: tuple[int, int] | None = None


@dataclass(frozen=True)
class PointInfo:
    """The contact point (phone, e-mail, address) the contact would use, if known."""

    opted_out: bool = False
    do_not_contact: bool = False
    consent: bool = False
    unusable: bool = False


@dataclass(frozen=True)
class ContactHistory:
    """What the counting rules need, for this case and debtor (any order).

    ``case_calls``: phone calls the collector placed (outbound) on this case in the last 8 days
    or more (Regulation F counts per debt; calls from the debtor never count).
    ``debtor_contacts``: outbound contacts of any channel to this debtor in the last 2 days (for
    the per-day cap in the debtor's local day). ``last_conversation_at``: the last telephone
    conversation with the debtor about this case, whoever called."""

    case_calls: tuple[dt.datetime, ...] = ()
    debtor_contacts: tuple[dt.datetime, ...] = ()
    last_conversation_at: dt.datetime | None = None


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""
    next_allowed_at: dt.datetime | None = None  # None with a refusal: blocked until something changes
    calls_left_week: int | None = None  # None: no weekly cap in this jurisdiction
    details: dict = field(default_factory=dict)


@functools.lru_cache(maxsize=64)
def _holiday_calendar(country: str, subdivision: str, year: int):
    return holidays_lib.country_holidays(country, subdiv=subdivision or None, years=year)


def is_holiday(pack: PackRules, day: dt.date) -> bool:
    if not (pack.skip_holidays and pack.holiday_country):
        return False
    return day in _holiday_calendar(pack.holiday_country, pack.holiday_subdivision, day.year)


def _zone(name: str) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def _window_start(day: dt.date, pack: PackRules, tz: dt.tzinfo) -> dt.datetime:
    # combine() + tzinfo gives the wall-clock time of that day, whatever its UTC offset (DST).
    return dt.datetime.combine(day, pack.start_time, tzinfo=tz)


def _blocking_reason(debtor: DebtorInfo, case_status: str, channel: str, pack: PackRules, point: PointInfo | None) -> str:
    if case_status in PAUSED_STATUSES:
        return CASE_PAUSED
    if case_status not in WORKABLE_STATUSES:
        return CASE_CLOSED
    for flag, code in (("cease_communication", CEASE), ("do_not_contact", DO_NOT_CONTACT),
                       ("attorney_represented", ATTORNEY), ("deceased", DECEASED), ("bankruptcy", BANKRUPTCY)):
        if getattr(debtor, flag):
            return code
    if point is not None:
        if point.unusable:
            return POINT_UNUSABLE
        if point.do_not_contact:
            return POINT_DO_NOT_CONTACT
        if point.opted_out:
            return POINT_OPTED_OUT
        if channel in pack.consent_channels and not point.consent:
            return NO_CONSENT
    return ""


def _time_reason(local: dt.datetime, pack: PackRules, channel: str) -> tuple[str, dt.datetime | None]:
    """(reason, next allowed local moment) for the hour/weekday/holiday rules, or ("", None)."""
    if channel not in pack.hours_channels:
        return "", None
    # Keyed by the wall-clock time AND the zone: aware datetimes of equal instants compare equal
    # whatever their zone, and these rules depend on the local day and hour. A portfolio replan
    # asks the same question for thousands of steps due at the same moment.
    return _time_reason_local(local.replace(tzinfo=None), local.tzinfo, pack)


@functools.lru_cache(maxsize=4096)
def _time_reason_local(wall: dt.datetime, tz: dt.tzinfo, pack: PackRules) -> tuple[str, dt.datetime | None]:
    local = wall.replace(tzinfo=tz)
    reason = ""
    day = local.date()
    if local.isoweekday() not in pack.weekdays:
        reason = WEEKDAY
    elif is_holiday(pack, day):
        reason = HOLIDAY
    elif local.time() < pack.start_time:
        return OUTSIDE_HOURS, _next_open_day(day, pack, tz, include_today=True)
    elif local.time() >= pack.end_time:
        reason = OUTSIDE_HOURS
    if not reason:
        return "", None
    return reason, _next_open_day(day, pack, tz, include_today=False)


def _next_open_day(day: dt.date, pack: PackRules, tz: dt.tzinfo, *, include_today: bool) -> dt.datetime | None:
    candidate = day if include_today else day + dt.timedelta(days=1)
    for _ in range(400):
        if candidate.isoweekday() in pack.weekdays and not is_holiday(pack, candidate):
            return _window_start(candidate, pack, tz)
        candidate += dt.timedelta(days=1)
    return None  # a pack that allows no day at all


def _midnight(day: dt.date, tz: dt.tzinfo) -> dt.datetime:
    """The start of ``day`` in ``tz`` (the hour rules then move it to the window's opening)."""
    return dt.datetime.combine(day, dt.time(0), tzinfo=tz)


def _calls_by_day(at: dt.datetime, tz: dt.tzinfo, history: ContactHistory) -> dict[dt.date, int]:
    """The case's calls placed up to ``at``, counted per local calendar day."""
    days: dict[dt.date, int] = {}
    for t in history.case_calls:
        if t <= at:
            day = t.astimezone(tz).date()
            days[day] = days.get(day, 0) + 1
    return days


def _calls_in_window(days: dict[dt.date, int], day: dt.date) -> int:
    """Calls on ``day`` and the six calendar days before it."""
    first = day - dt.timedelta(days=CALL_WINDOW_DAYS - 1)
    return sum(n for d, n in days.items() if first <= d <= day)


def _count_reason(at: dt.datetime, tz: dt.tzinfo, channel: str, pack: PackRules,
                  history: ContactHistory) -> tuple[str, dt.datetime | None]:
    local_day = at.astimezone(tz).date()
    if channel == "phone":
        if pack.pause_days_after_conversation and history.last_conversation_at is not None:
            talked = history.last_conversation_at.astimezone(tz).date()
            reopens = talked + dt.timedelta(days=pack.pause_days_after_conversation)
            if talked <= local_day < reopens:
                return CONVERSATION_PAUSE, _midnight(reopens, tz)
        if pack.max_calls_per_case_7d is not None:
            days = _calls_by_day(at, tz, history)
            if _calls_in_window(days, local_day) >= pack.max_calls_per_case_7d:
                # The first later day whose window holds fewer calls: after seven days every call
                # counted here has left it (unless the pack allows no call at all).
                for ahead in range(1, CALL_WINDOW_DAYS + 1):
                    later = local_day + dt.timedelta(days=ahead)
                    if _calls_in_window(days, later) < pack.max_calls_per_case_7d:
                        return WEEKLY_CALL_CAP, _midnight(later, tz)
                return WEEKLY_CALL_CAP, None
    if pack.max_contacts_per_day is not None and history.debtor_contacts:
        today = [t for t in history.debtor_contacts if t.astimezone(tz).date() == local_day and t <= at]
        if len(today) >= pack.max_contacts_per_day:
            return DAILY_CAP, _midnight(local_day + dt.timedelta(days=1), tz)
    return "", None


def calls_left_week(at: dt.datetime, pack: PackRules, history: ContactHistory, tz: dt.tzinfo) -> int | None:
    """Calls still allowed on the case in the 7 calendar days (in ``tz``, the debtor's zone)
    ending on the day of ``at``; None when the jurisdiction has no such cap."""
    if pack.max_calls_per_case_7d is None:
        return None
    used = _calls_in_window(_calls_by_day(at, tz, history), at.astimezone(tz).date())
    return max(pack.max_calls_per_case_7d - used, 0)


def _hour_zones(debtor: DebtorInfo) -> tuple[dt.tzinfo, ...]:
    """The zones the hour rules must hold in: the primary zone first, then the other candidates."""
    return tuple(dict.fromkeys(_zone(name) for name in (debtor.timezone, *debtor.zones)))


def _time_reason_zones(at: dt.datetime, zones: tuple[dt.tzinfo, ...], pack: PackRules,
                       channel: str) -> tuple[str, dt.datetime | None]:
    """The hour/weekday/holiday rules in every zone: the first refusing zone's reason and the
    latest next opening among the refusing zones (None if one of them never opens)."""
    first_reason = ""
    latest: dt.datetime | None = None
    for tz in zones:
        reason, moved = _time_reason(at.astimezone(tz), pack, channel)
        if not reason:
            continue
        first_reason = first_reason or reason
        if moved is None:
            return first_reason, None
        latest = moved if latest is None or moved > latest else latest
    return first_reason, latest


def _preferred_reason(at: dt.datetime, tz: dt.tzinfo, window: tuple[int, int]) -> tuple[str, dt.datetime | None]:
    """Inside the debtor's preferred call hours (in their zone), or the next start of them."""
    local = at.astimezone(tz)
    start, end = window
    if start <= local.hour < end:
        return "", None
    day = local.date() if local.hour < start else local.date() + dt.timedelta(days=1)
    return PREFERRED_TIME, dt.datetime.combine(day, dt.time(start), tzinfo=tz)


def can_contact(
    *,
    debtor: DebtorInfo,
    case_status: str,
    channel: str,
    at: dt.datetime,
    pack: PackRules,
    history: ContactHistory = ContactHistory(),
    point: PointInfo | None = None,
) -> Decision:
    """Allowed, or refused with the FIRST failing rule's code and the earliest moment at which
    every time-based rule passes (blocking reasons have no such moment): the first lawful minute,
    inside the hours window of every candidate zone and allowed by the counting rules, which
    count calendar days in the debtor's primary zone. No such moment within MAX_ROUNDS (zones
    whose windows never overlap): refused with no next moment."""
    primary = _zone(debtor.timezone)
    left = calls_left_week(at, pack, history, primary)
    blocking = _blocking_reason(debtor, case_status, channel, pack, point)
    if blocking:
        return Decision(False, blocking, None, left)
    zones = _hour_zones(debtor)
    first_reason = ""
    candidate = at
    # Each rule may push the candidate later; stop when one moment satisfies all of them.
    for _ in range(MAX_ROUNDS):
        reason, moved = _time_reason_zones(candidate, zones, pack, channel)
        if not reason and channel == "phone" and debtor.call_window is not None:
            reason, moved = _preferred_reason(candidate, primary, debtor.call_window)
        if not reason:
            reason, moved = _count_reason(candidate, primary, channel, pack, history)
        if not reason:
            break
        first_reason = first_reason or reason
        if moved is None:
            return Decision(False, reason, None, left)
        candidate = max(moved.astimezone(dt.UTC), candidate + dt.timedelta(seconds=1))
    else:
        return Decision(False, first_reason, None, left)
    if not first_reason:
        return Decision(True, "", at, left)
    return Decision(False, first_reason, candidate.astimezone(dt.UTC), left)
