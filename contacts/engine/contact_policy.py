"""Contact policy, wired to the database: builds the plain inputs of engine.policy.can_contact
(jurisdiction pack, debtor flags, contact history) and records every refusal."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

from django.db import connection

from cases.choices import Channel, Direction, Outcome
from cases.models import Case
from debtors.models import CONTACT_TIME_WINDOWS, ContactPoint, ContactPointKind, Debtor

from ..lookups import span_q
from ..models import ContactAttempt, ContactRefusal, JurisdictionPack, RefusalStage
from . import policy

# How far back the history queries look: the longest plausible pause after a conversation.
HISTORY_DAYS = 30
# The calls that can still count: Regulation F's window is the day checked (today or later) and
# the six calendar days before it in the debtor's zone, which began less than 7 days (and a DST
# hour) ago.
CALL_HISTORY = dt.timedelta(days=policy.CALL_WINDOW_DAYS + 1)

CHANNEL_POINT_KIND: dict[str, str] = {
    Channel.PHONE: ContactPointKind.PHONE,
    Channel.SMS: ContactPointKind.PHONE,
    Channel.WHATSAPP: ContactPointKind.PHONE,
    Channel.EMAIL: ContactPointKind.EMAIL,
    Channel.LETTER: ContactPointKind.ADDRESS,
    Channel.VISIT: ContactPointKind.ADDRESS,
}


def _csv(value: str) -> frozenset[str]:
    return frozenset(v.strip() for v in (value or "").split(",") if v.strip())


def pack_rules(pack: JurisdictionPack) -> policy.PackRules:
    return policy.PackRules(
        code=pack.code,
        start_time=pack.start_time,
        end_time=pack.end_time,
        weekdays=frozenset(int(d) for d in _csv(pack.weekdays)),
        skip_holidays=pack.skip_holidays,
        holiday_country=pack.holiday_country,
        holiday_subdivision=pack.holiday_subdivision,
        hours_channels=_csv(pack.hours_channels),
        max_calls_per_case_7d=pack.max_calls_per_case_7d,
        pause_days_after_conversation=pack.pause_days_after_conversation,
        max_contacts_per_day=pack.max_contacts_per_day,
        consent_channels=_csv(pack.consent_channels),
    )


# A debtor whose country has no pack and no default pack exists: the strictest sensible hours.
FALLBACK_PACK = policy.PackRules(code="fallback", start_time=dt.time(9), end_time=dt.time(20), weekdays=frozenset({1, 2, 3, 4, 5}))


class PackIndex:
    """Active packs by country, loaded once (one query) per planning batch or page."""

    def __init__(self, packs: Iterable[JurisdictionPack] | None = None):
        packs = list(JurisdictionPack.objects.filter(active=True) if packs is None else packs)
        self.by_country: dict[str, tuple[JurisdictionPack, policy.PackRules]] = {}
        self.default: tuple[JurisdictionPack | None, policy.PackRules] = (None, FALLBACK_PACK)
        for pack in packs:
            rules = pack_rules(pack)
            for country in _csv(pack.countries):
                self.by_country[country.upper()] = (pack, rules)
            if pack.is_default:
                self.default = (pack, rules)

    def for_country(self, country: str) -> tuple[JurisdictionPack | None, policy.PackRules]:
        return self.by_country.get((country or "").upper(), self.default)

    def pack_ids(self) -> set[int]:
        return {pack.pk for pack, _rules in [*self.by_country.values(), self.default] if pack is not None}


def debtor_info(debtor: Debtor) -> policy.DebtorInfo:
    """The debtor as the policy sees it: the recorded zone, the candidate zones the hour rules
    must all hold in until the zone is confirmed, and the flags that stop contact."""
    return policy.DebtorInfo(
        timezone=debtor.timezone,
        zones=debtor.candidate_zones,
        do_not_contact=debtor.do_not_contact,
        cease_communication=debtor.cease_communication,
        attorney_represented=debtor.attorney_represented,
        deceased=debtor.deceased,
        bankruptcy=debtor.bankruptcy,
        call_window=CONTACT_TIME_WINDOWS.get(debtor.preferred_contact_time),
    )


def point_info(point: ContactPoint | None) -> policy.PointInfo | None:
    if point is None:
        return None
    return policy.PointInfo(opted_out=point.opted_out, do_not_contact=point.do_not_contact, consent=point.consent,
                            unusable=bool(point.unusable_reason))


def _debtor_contacts(debtor_ids: list[int], *, since: dt.datetime):
    """(debtor id, at) of the outbound contacts since ``since`` on any case of these debtors."""
    if connection.vendor != "postgresql":
        return ContactAttempt.objects.filter(
            case__debtor_id__in=debtor_ids, direction=Direction.OUTBOUND, occurred_at__gte=since
        ).values_list("case__debtor_id", "occurred_at")
    # LATERAL, fenced by OFFSET 0 so that it is not flattened: case by case through the debtor
    # index, then each case's attempts. A plain join filtered on debtor_id is planned as a scan of
    # every recent attempt of the company (or of every case): a cost that grows with the
    # portfolio instead of the batch.
    sql = (
        f"SELECT c.debtor_id, a.occurred_at FROM {Case._meta.db_table} c CROSS JOIN LATERAL ("
        f"SELECT occurred_at FROM {ContactAttempt._meta.db_table} WHERE case_id = c.id AND direction = %s "
        f"AND occurred_at >= %s OFFSET 0) a WHERE c.debtor_id = ANY(%s)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [Direction.OUTBOUND.value, since, debtor_ids])
        return cursor.fetchall()


def contact_histories(*, cases: list[tuple[int, int]], now: dt.datetime, calls_for: list[int] | None = None) -> dict[int, policy.ContactHistory]:
    """History per case id for (case_id, debtor_id) pairs, in two queries whatever their number.

    The case's own calls and conversations only matter to the phone rules: ``calls_for`` limits
    them to these case ids (the planner passes the cases whose next step is a call); the
    debtor's contacts of the last days (the daily cap) are read for every case. Only the calls
    the collector placed count towards Regulation F's cap (a debtor's call never does), while a
    conversation starts its pause whoever called."""
    case_ids = [c for c, _ in cases] if calls_for is None else calls_for
    debtor_ids = {d for _, d in cases}
    calls: dict[int, list[dt.datetime]] = defaultdict(list)
    conversation: dict[int, dt.datetime] = {}
    conversations = Outcome.conversation_values()
    rows = ContactAttempt.objects.filter(
        span_q("case_id", case_ids), channel=Channel.PHONE, occurred_at__gte=now - dt.timedelta(days=HISTORY_DAYS)
    ).values_list("case_id", "direction", "outcome", "occurred_at") if case_ids else ()
    for case_id, direction, outcome, at in rows:
        if direction == Direction.OUTBOUND and at > now - CALL_HISTORY:
            calls[case_id].append(at)
        if outcome in conversations and (case_id not in conversation or at > conversation[case_id]):
            conversation[case_id] = at
    by_debtor: dict[int, list[dt.datetime]] = defaultdict(list)
    for debtor_id, at in _debtor_contacts(list(debtor_ids), since=now - dt.timedelta(days=2)):
        by_debtor[debtor_id].append(at)
    return {
        case_id: policy.ContactHistory(
            case_calls=tuple(calls.get(case_id, ())),
            debtor_contacts=tuple(by_debtor.get(debtor_id, ())),
            last_conversation_at=conversation.get(case_id),
        )
        for case_id, debtor_id in cases
    }


def usable_point(points: Iterable[ContactPoint], channel: str, rules: policy.PackRules) -> tuple[ContactPoint | None, ContactPoint | None]:
    """(best usable point, first point of the right kind) for a channel: primary and verified first;
    unusable (not a valid value), opted-out, do-not-contact and (where the pack needs it) unconsented
    points are not usable."""
    kind = CHANNEL_POINT_KIND.get(channel)
    candidates = sorted((p for p in points if p.kind == kind), key=lambda p: (not p.is_primary, not p.verified, p.pk))
    for point in candidates:
        if point.unusable_reason or point.opted_out or point.do_not_contact or (channel in rules.consent_channels and not point.consent):
            continue
        return point, candidates[0]
    return None, candidates[0] if candidates else None


def refusal_record(*, case_id: int, channel: str, decision: policy.Decision, stage: str, now: dt.datetime,
                   pack: JurisdictionPack | None = None, followup_id: int | None = None, user=None) -> ContactRefusal:
    return ContactRefusal.objects.create(
        case_id=case_id, channel=channel, reason=decision.reason, stage=stage, at=now,
        next_allowed_at=decision.next_allowed_at, pack=pack, followup_id=followup_id,
        user=user if getattr(user, "pk", None) else None,
    )


def contact_check(
    *,
    case: Case,
    channel: str,
    now: dt.datetime,
    contact_point: ContactPoint | None = None,
    actor=None,
    stage: str = RefusalStage.CALL,
    record: bool = True,
    followup_id: int | None = None,
    packs: PackIndex | None = None,
) -> policy.Decision:
    """May ``channel`` be used on ``case`` right now? The agent workspace calls it when an agent
    starts a call; the send task calls it before sending. A refusal is recorded (ContactRefusal)."""
    debtor = Debtor.objects.get(pk=case.debtor_id)
    pack, rules = (packs or PackIndex()).for_country(debtor.country)
    history = contact_histories(cases=[(case.pk, case.debtor_id)], now=now)[case.pk]
    decision = policy.can_contact(
        debtor=debtor_info(debtor), case_status=case.status, channel=channel, at=now, pack=rules,
        history=history, point=point_info(contact_point),
    )
    if not decision.allowed and record:
        refusal_record(case_id=case.pk, channel=channel, decision=decision, stage=stage, now=now, pack=pack,
                       followup_id=followup_id, user=actor)
    return decision
