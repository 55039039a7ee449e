"""Company-wide rollups of the daily facts (``DailyRollup``), and the one place the dashboard's
selectors read sums from: the rollup when the slice is the whole company, the facts otherwise.

A rollup row is the SUM of the fact rows of one day, creditor and grouping, so a figure read
from it equals the figure summed from the facts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db.models import F, QuerySet, Sum

from .models import AttemptDaily, DailyRollup, MoneyDaily, PromiseDaily, TechniqueDaily

INT_DIMS = ("agent_id", "technique_id", "excuse_category_id")
TEXT_DIMS = ("objective", "status")
MEASURES = {
    AttemptDaily: ("attempts", "right_party", "led_promise", "led_kept", "led_money"),
    PromiseDaily: ("promises", "amount", "amount_paid"),
    MoneyDaily: ("placed_cases", "placed_amount", "payments", "collected"),
    TechniqueDaily: ("interactions", "case_days", "led_promise", "led_kept", "led_money"),
}
# source name -> (fact model, grouping): the groupings the dashboard's queries use.
ROLLUPS = {
    "attempt": (AttemptDaily, ()),
    "attempt:agent": (AttemptDaily, ("agent_id",)),
    "attempt:objective": (AttemptDaily, ("objective",)),
    "promise": (PromiseDaily, ()),
    "promise:agent": (PromiseDaily, ("agent_id",)),
    "promise:objective": (PromiseDaily, ("objective",)),
    "promise:agent:status": (PromiseDaily, ("agent_id", "status")),
    "promise:objective:status": (PromiseDaily, ("objective", "status")),
    "money": (MoneyDaily, ()),
    "money:agent": (MoneyDaily, ("agent_id",)),
    "technique": (TechniqueDaily, ("technique_id",)),
    "technique:objective": (TechniqueDaily, ("technique_id", "objective")),
    "technique:excuse": (TechniqueDaily, ("technique_id", "excuse_category_id")),
}


def slots(dims: Iterable[str]) -> dict[str, str]:
    """Grouping column -> rollup slot (int1/int2 for ids, text1/text2 for codes)."""
    ints = iter(("int1", "int2"))
    texts = iter(("text1", "text2"))
    return {d: next(ints) if d in INT_DIMS else next(texts) for d in dims}


def rollup_for(model, dims: Iterable[str]) -> str | None:
    wanted = tuple(sorted(d for d in dims if d != "day"))
    for name, (source_model, grouping) in ROLLUPS.items():
        if source_model is model and tuple(sorted(grouping)) == wanted:
            return name
    return None


def rollups_rebuild(days: Iterable[dt.date] | None) -> None:
    """Recompute the rollups of ``days`` (``None``: every day) from the facts. Call inside the
    transaction that changed the facts of those days."""
    days = None if days is None else sorted(set(days))
    if days is not None and not days:
        return
    for chunk in ([None] if days is None else [days[i:i + 200] for i in range(0, len(days), 200)]):
        rollups = DailyRollup.objects.all() if chunk is None else DailyRollup.objects.filter(day__in=chunk)
        rollups.delete()
        rows = []
        for name, (model, grouping) in ROLLUPS.items():
            facts = model.objects.all() if chunk is None else model.objects.filter(day__in=chunk)
            mapping = slots(grouping)
            for r in facts.values("day", "creditor_id", *grouping).annotate(**{f"s_{m}": Sum(m) for m in MEASURES[model]}).order_by():
                rows.append(DailyRollup(
                    source=name, day=r["day"], creditor_id=r["creditor_id"],
                    **{slot: r[dim] for dim, slot in mapping.items()},
                    **{m: r[f"s_{m}"] or 0 for m in MEASURES[model]},
                ))
        DailyRollup.objects.bulk_create(rows, batch_size=5000)


def fact_sums(scope, model, by: Iterable[str] = (), **sums: str) -> QuerySet | list[dict]:
    """``model``'s facts in ``scope`` grouped by ``by`` with ``alias=SUM(measure)`` for each of
    ``sums``: from the rollup when the slice is the whole company (every agent, unassigned
    included) and one exists for the grouping, else from the facts. Rows are dicts keyed by the
    grouping columns and the aliases either way."""
    by = list(by)
    name = rollup_for(model, by) if scope.agent_ids is None and scope.include_unassigned else None
    if name is None:
        qs = model.objects.filter(scope.fact_q())
    else:
        qs = DailyRollup.objects.filter(source=name, day__gte=scope.date_from, day__lte=scope.date_to)
        if scope.creditor_id:
            qs = qs.filter(creditor_id=scope.creditor_id)
    aggregates = {alias: Sum(measure) for alias, measure in sums.items()}
    if not by:
        return [qs.aggregate(**aggregates)]
    if name is None:
        return qs.values(*by).annotate(**aggregates).order_by()
    mapping = slots(d for d in by if d != "day")
    return qs.values(*[d for d in by if d == "day"], **{d: F(slot) for d, slot in mapping.items()}).annotate(**aggregates).order_by()
