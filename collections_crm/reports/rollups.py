"""Company-wide rollups of the daily facts (``DailyRollup``), and the one place the dashboard's
selectors read sums from: the rollup when the slice is the whole company, the facts otherwise.

A rollup row is the SUM of the fact rows of one day, creditor and grouping, so a figure read
from it equals the figure summed from the facts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import connection
from django.db.models import F, Q, QuerySet, Sum

from collections_crm.core.dates import add_months, month_start

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


ALL_MEASURES = [f.column for f in DailyRollup._meta.concrete_fields if f.name in {m for ms in MEASURES.values() for m in ms}]


def _insert_select(name: str, model, grouping: tuple[str, ...], days: list[dt.date] | None) -> None:
    """INSERT INTO the rollup SELECT the fact sums, in the database (no rows through Python)."""
    mapping = slots(grouping)
    column = {d: model._meta.get_field(d).column for d in grouping}
    by_slot = {slot: column[d] for d, slot in mapping.items()}
    select = ["%s", "day", "creditor_id"]
    select += [by_slot.get("int1", "NULL"), by_slot.get("int2", "NULL"), by_slot.get("text1", "''"), by_slot.get("text2", "''")]
    select += [f"COALESCE(SUM({m}), 0)" if m in MEASURES[model] else "0" for m in ALL_MEASURES]
    where, params = "", [name]
    if days is not None:
        where = f"WHERE day IN ({', '.join(['%s'] * len(days))})"
        params += days
    sql = (
        f"INSERT INTO {DailyRollup._meta.db_table} (source, day, creditor_id, int1, int2, text1, text2, {', '.join(ALL_MEASURES)}) "
        f"SELECT {', '.join(select)} FROM {model._meta.db_table} {where} GROUP BY day, creditor_id{''.join(', ' + column[d] for d in grouping)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


MONTHLY = "@month"


def _rebuild_months(months: Iterable[dt.date], sources: Iterable[str]) -> None:
    """Month rows (``source@month``, day = the month's first day): the sums of the month's day
    rows, so that a long period reads a few rows per agent instead of one per day."""
    sources = list(sources)
    for month in sorted(set(months)):
        DailyRollup.objects.filter(source__in=[s + MONTHLY for s in sources], day=month).delete()
        rows = (
            DailyRollup.objects.filter(source__in=sources, day__gte=month, day__lt=add_months(month, 1))
            .values("source", "creditor_id", "int1", "int2", "text1", "text2")
            .annotate(**{f"s_{m}": Sum(m) for m in ALL_MEASURES})
            .order_by()
        )
        DailyRollup.objects.bulk_create([
            DailyRollup(source=r["source"] + MONTHLY, day=month, creditor_id=r["creditor_id"], int1=r["int1"], int2=r["int2"],
                        text1=r["text1"], text2=r["text2"], **{m: r[f"s_{m}"] for m in ALL_MEASURES})
            for r in rows
        ], batch_size=5000)


def rollups_rebuild(days: Iterable[dt.date] | None, model=None) -> None:
    """Recompute the rollups of ``model``'s facts (``None``: every fact table) for ``days``
    (``None``: every day), and the month rows of their months. Call inside the transaction that
    changed the facts of those days."""
    days = None if days is None else sorted(set(days))
    if days is not None and not days:
        return
    sources = [name for name, (source_model, _g) in ROLLUPS.items() if model is None or source_model is model]
    for chunk in ([None] if days is None else [days[i:i + 200] for i in range(0, len(days), 200)]):
        rollups = DailyRollup.objects.filter(source__in=sources)
        (rollups if chunk is None else rollups.filter(day__in=chunk)).delete()
        for name in sources:
            _insert_select(name, *ROLLUPS[name], chunk)
    if days is None:
        days = DailyRollup.objects.filter(source__in=sources).values_list("day", flat=True).distinct().order_by()
    _rebuild_months({month_start(d) for d in days}, sources)


def _period_q(name: str, first: dt.date, last: dt.date) -> Q:
    """Rollup rows covering ``first``..``last``: month rows for the whole months inside it, day
    rows for the days at either end."""
    start = first if first.day == 1 else month_start(add_months(first, 1))
    months = []
    while add_months(start, 1) - dt.timedelta(days=1) <= last:
        months.append(start)
        start = add_months(start, 1)
    if not months:
        return Q(source=name, day__gte=first, day__lte=last)
    q = Q(source=name + MONTHLY, day__in=months)
    if first < months[0]:
        q |= Q(source=name, day__gte=first, day__lt=months[0])
    if start <= last:
        q |= Q(source=name, day__gte=start, day__lte=last)
    return q


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
        if "day" in by:
            qs = DailyRollup.objects.filter(source=name, day__gte=scope.date_from, day__lte=scope.date_to)
        else:
            qs = DailyRollup.objects.filter(_period_q(name, scope.date_from, scope.date_to))
        if scope.creditor_ids is not None:
            qs = qs.filter(creditor_id__in=scope.creditor_ids)
    aggregates = {alias: Sum(measure) for alias, measure in sums.items()}
    if not by:
        return [qs.aggregate(**aggregates)]
    if name is None:
        return qs.values(*by).annotate(**aggregates).order_by()
    mapping = slots(d for d in by if d != "day")
    return qs.values(*[d for d in by if d == "day"], **{d: F(slot) for d, slot in mapping.items()}).annotate(**aggregates).order_by()
