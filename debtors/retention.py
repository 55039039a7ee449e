"""When a debtor's personal data may be erased (GDPR storage limitation). A pure decision: it takes
plain data and ``now`` and returns the answer with its reason; no ORM, no clock. The services
and the sweeper read the data (collections_crm/privacy/selectors.py) and act on the answer.

The rule: a debtor is erasable when none of their cases is open, no legal hold is set, and for
every case the retention period of its creditor has passed since that case was closed (so for
each creditor, since the last of the debtor's cases with it closed). A debtor with no case at
all counts its retention from its own creation, with the default period.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

# About six years: the Spanish limitation period for personal actions is five years (Código
# Civil, art. 1964) and tax records are kept four to six. A creditor may set its own.
DEFAULT_RETENTION_DAYS = 2190


class ErasureState:
    ANONYMISED = "anonymised"
    LEGAL_HOLD = "legal_hold"
    OPEN_CASES = "open_cases"
    RETENTION = "retention"
    ERASABLE = "erasable"


MESSAGES = {
    ErasureState.ANONYMISED: _("The debtor's personal data was already anonymised."),
    ErasureState.LEGAL_HOLD: _("A legal hold is set: the data is kept until an admin lifts it."),
    ErasureState.OPEN_CASES: _("The debtor still has open cases."),
    ErasureState.RETENTION: _("The retention period has not passed yet."),
    ErasureState.ERASABLE: _("The retention period has passed: the personal data may be anonymised."),
}


@dataclass(frozen=True)
class CaseRetention:
    case_id: int
    creditor_id: int
    is_open: bool
    # When the case was closed (paid or closed); for a final case without the date, when it
    # last changed.
    closed_at: dt.datetime | None
    retention_days: int
    # For display only.
    reference: str = ""
    creditor_name: str = ""
    status_label: str = ""

    @property
    def keep_until(self) -> dt.datetime | None:
        if self.is_open or self.closed_at is None:
            return None
        return self.closed_at + dt.timedelta(days=self.retention_days)


@dataclass(frozen=True)
class Erasability:
    state: str
    # When the last retention period ends (None while a case is open).
    erasable_from: dt.datetime | None
    open_cases: int = 0

    @property
    def erasable(self) -> bool:
        return self.state == ErasureState.ERASABLE

    @property
    def message(self) -> str:
        return str(MESSAGES[self.state])


def erasability(
    *, cases: Iterable[CaseRetention], legal_hold: bool, anonymised: bool, created_at: dt.datetime, now: dt.datetime,
    default_retention_days: int = DEFAULT_RETENTION_DAYS,
) -> Erasability:
    cases = list(cases)
    open_cases = sum(1 for c in cases if c.is_open or c.closed_at is None)
    if cases:
        ends = [c.keep_until for c in cases]
        erasable_from = None if open_cases else max(e for e in ends if e is not None)
    else:
        erasable_from = created_at + dt.timedelta(days=default_retention_days)
    if anonymised:
        state = ErasureState.ANONYMISED
    elif legal_hold:
        state = ErasureState.LEGAL_HOLD
    elif open_cases:
        state = ErasureState.OPEN_CASES
    elif erasable_from is not None and erasable_from > now:
        state = ErasureState.RETENTION
    else:
        state = ErasureState.ERASABLE
    return Erasability(state=state, erasable_from=erasable_from, open_cases=open_cases)
