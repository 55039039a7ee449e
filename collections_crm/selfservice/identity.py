"""Identity before detail: the debtor proves who they are before the portal shows anything
beyond the creditor's name.

The answer is the last four characters of their document and, as a second factor, their postal
code or date of birth (whichever we hold; both may be given). A wrong answer says only that the
answer did not match; after the admin's number of wrong answers the link locks for the admin's
number of minutes. Every answer is audited on the case (without the answer itself).
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
from dataclasses import dataclass

from django.db import transaction

from collections_crm.audit.services import audit_record
from debtors.models import Debtor

from .activity import case_portal_touch
from .links import portal_settings
from .models import PortalLink

_ALNUM_RE = re.compile(r"[^0-9A-Z]")


def _clean(value: str) -> str:
    return _ALNUM_RE.sub("", (value or "").upper())


def _same(a: str, b: str) -> bool:
    return bool(a) and hmac.compare_digest(a.encode(), b.encode())


def answers_match(*, debtor: Debtor, document_end: str, postal_code: str = "", birth_date: dt.date | None = None) -> bool:
    """Pure: do the answers match what we hold? Both factors must; the second is the postal code
    or the date of birth, and a debtor we hold neither for cannot be verified online."""
    document = _clean(debtor.document_number)
    if len(document) < 4 or not _same(_clean(document_end), document[-4:]):
        return False
    postal_ok = bool(debtor.postal_code) and _same(_clean(postal_code), _clean(debtor.postal_code))
    birth_ok = debtor.birth_date is not None and birth_date is not None and birth_date == debtor.birth_date
    return postal_ok or birth_ok


def can_verify_online(debtor: Debtor) -> bool:
    return len(_clean(debtor.document_number)) >= 4 and bool(debtor.postal_code or debtor.birth_date)


@dataclass(frozen=True)
class IdentityResult:
    ok: bool
    locked_until: dt.datetime | None = None
    attempts_left: int = 0


def identity_check(
    *, link_id: int, document_end: str, postal_code: str = "", birth_date: dt.date | None = None, now: dt.datetime,
) -> IdentityResult:
    """Check the answers for this link, counting a wrong one, locking the link at the limit."""
    conf = portal_settings()
    with transaction.atomic():
        link = PortalLink.objects.select_for_update().select_related("case__debtor").get(pk=link_id)
        if link.locked_until is not None and link.locked_until > now:
            audit_record(actor=None, action="portal.identity_refused_locked", obj=link, case_id=link.case_id, at=now)
            return IdentityResult(ok=False, locked_until=link.locked_until)
        if answers_match(debtor=link.case.debtor, document_end=document_end, postal_code=postal_code, birth_date=birth_date):
            link.failed_attempts, link.locked_until, link.verified_at = 0, None, now
            link.save(update_fields=["failed_attempts", "locked_until", "verified_at"])
            audit_record(actor=None, action="portal.identity_confirmed", obj=link, case_id=link.case_id, at=now)
            case_portal_touch(case_id=link.case_id, now=now)
            return IdentityResult(ok=True)
        link.failed_attempts += 1
        if link.failed_attempts >= conf.max_identity_attempts:
            link.failed_attempts, link.locked_until = 0, now + dt.timedelta(minutes=conf.lockout_minutes)
            link.save(update_fields=["failed_attempts", "locked_until"])
            audit_record(actor=None, action="portal.link_locked", obj=link, case_id=link.case_id,
                         after={"locked_until": link.locked_until.isoformat()}, at=now)
            case_portal_touch(case_id=link.case_id, now=now)
            return IdentityResult(ok=False, locked_until=link.locked_until)
        link.save(update_fields=["failed_attempts"])
        audit_record(actor=None, action="portal.identity_failed", obj=link, case_id=link.case_id,
                     after={"failed_attempts": link.failed_attempts}, at=now)
        case_portal_touch(case_id=link.case_id, now=now)
        return IdentityResult(ok=False, attempts_left=conf.max_identity_attempts - link.failed_attempts)
