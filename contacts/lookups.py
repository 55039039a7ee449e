"""``field__any=[ids]`` → ``field = ANY(%s)`` with the list as ONE array parameter (PostgreSQL).

Django's ``__in`` prepares every element separately and writes thousands of placeholders; for
the portfolio replan (batches of thousands of case ids) that costs more than the query, and
``IN (SELECT unnest(...))`` misleads the planner. ``= ANY(array)`` is planned as an index scan."""

from __future__ import annotations

from django.db import connection
from django.db.models import Field, ForeignObject, Lookup, Q


class IdArray:
    """Ids for ``__any``, passed through the ORM as ONE opaque value: Django resolves and checks
    every element of a list or tuple in Python (a visible cost for 5,000 ids in ten queries)."""

    __slots__ = ("ids",)

    def __init__(self, ids):
        self.ids = list(ids)


class AnyLookup(Lookup):
    lookup_name = "any"
    prepare_rhs = False

    def get_db_prep_lookup(self, value, connection):
        return "%s", [value.ids if isinstance(value, IdArray) else list(value)]

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY({rhs})", [*lhs_params, *rhs_params]


Field.register_lookup(AnyLookup)
ForeignObject.register_lookup(AnyLookup)


def ids_q(field: str, ids) -> Q:
    """``field IN ids``; on PostgreSQL ``field = ANY(array)`` (AnyLookup above)."""
    if connection.vendor == "postgresql":
        return Q(**{f"{field}__any": IdArray(ids)})
    return Q(**{f"{field}__in": list(ids)})


def span_q(field: str, ids) -> Q:
    """Rows whose ``field`` is one of ``ids`` and, when the ids are dense (consecutive ids, as the
    portfolio replan takes them in batches), maybe rows of other ids between the smallest and the
    largest: one index range scan instead of one index descent per id (about 3× faster for a
    batch of 5,000). Only for reads whose rows are then looked up by id."""
    if ids and connection.vendor == "postgresql":
        low, high = min(ids), max(ids)
        if high - low < 2 * len(ids):
            return Q(**{f"{field}__gte": low, f"{field}__lte": high})
    return ids_q(field, ids)
