"""The strategy as plain data, and its per-process cache.

Owns: loading the admin-edited rules, cadences and follow-up settings into ``planner.Strategy``;
the short-lived cache of it and of the jurisdiction packs (``strategy_cached``, ``packs_cached``,
``strategy_invalidate``); and ``config_current``, the check that a cached strategy still names
rows that exist (and, in a batch, locks them until the commit)."""

from __future__ import annotations

import time

from django.contrib.auth import get_user_model
from django.db import connection

from ..models import (
    Cadence,
    CadenceStep,
    FollowUpSettings,
    JurisdictionPack,
    StrategyRule,
)
from . import planner
from .contact_policy import PackIndex


def strategy_load() -> planner.Strategy:
    rules = tuple(
        planner.Rule(r.pk, r.position, r.condition, r.objective, r.threshold, r.name, r.window_days, r.amount, r.creditor_id,
                     r.debtor_kind)
        for r in StrategyRule.objects.filter(active=True).order_by("position", "id")
    )
    cadences = {}
    for cadence in Cadence.objects.prefetch_related("steps"):
        steps = tuple(
            planner.Step(s.pk, s.position, s.delay_days, s.channel, s.kind, s.send_time, s.template_id, s.instructions,
                         s.is_consequence)
            for s in sorted(cadence.steps.all(), key=lambda s: s.position)
        )
        cadences[cadence.objective] = planner.CadenceInfo(cadence.objective, steps, cadence.repeat_every_days)
    conf = FollowUpSettings.objects.filter(pk=1).first() or FollowUpSettings()
    return planner.Strategy(
        rules=rules, cadences=cadences, reminder_days_before=conf.reminder_days_before,
        reminder_channel=conf.reminder_channel, reminder_template_id=conf.reminder_template_id,
        grace_days=conf.promise_grace_days,
    )


# Rules, cadences and packs change rarely (an admin edits them) but are read on every replan:
# each process keeps them for a short time. Editors call strategy_invalidate() after a change;
# other processes see it within STRATEGY_TTL seconds.
STRATEGY_TTL = 30.0
_cache: dict[str, tuple[float, object]] = {}


def cached(key: str, load):
    hit = _cache.get(key)
    if hit is None or time.monotonic() - hit[0] > STRATEGY_TTL:
        hit = (time.monotonic(), load())
        _cache[key] = hit
    return hit[1]


def strategy_cached() -> planner.Strategy:
    return cached("strategy", strategy_load)


def packs_cached() -> PackIndex:
    return cached("packs", PackIndex)


def strategy_invalidate() -> None:
    _cache.clear()


def config_current(strategy: planner.Strategy, packs: PackIndex, actor_id: int | None = None, *, lock: bool = False) -> bool:
    """Do the rules, cadence steps and packs this (cached) strategy names (and the actor) all
    still exist? Follow-ups and refusals point to them: a strategy cached before an admin deleted
    one would write a dangling id, and the foreign-key check at commit would undo the agent's
    whole action (an interaction logged, a payment) for up to STRATEGY_TTL. With ``lock``
    (PostgreSQL) they are also locked FOR KEY SHARE until the commit, as each row's foreign-key
    check would do: none can be deleted before then, so a batch may skip those per-row checks."""
    wanted = [(StrategyRule, {r.id for r in strategy.rules if r.id}),
              (CadenceStep, {s.id for c in strategy.cadences.values() for s in c.steps if s.id}),
              (JurisdictionPack, packs.pack_ids())]
    if actor_id is not None:
        wanted.append((get_user_model(), {actor_id}))
    if connection.vendor == "postgresql":
        counts = ", ".join(
            f"(SELECT count(*) FROM (SELECT 1 FROM {m._meta.db_table} WHERE id = ANY(%s){' FOR KEY SHARE' if lock else ''}) AS t)"
            for m, _ids in wanted
        )
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {counts}", [list(ids) for _m, ids in wanted])
            found = cursor.fetchone()
    else:
        found = [m._default_manager.filter(pk__in=ids).count() for m, ids in wanted]
    return all(n == len(ids) for n, (_m, ids) in zip(found, wanted, strict=True))
