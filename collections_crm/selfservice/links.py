"""Personal links: issuing them, finding the one a debtor holds, and ending them.

A link's secrets are a 256-bit token (in the URL of a message) and a 50-bit short code (printed
on a letter, typed on the portal's first page, where a rate limit and the identity check stand
behind it). Only keyed digests of both are stored (HMAC with SECRET_KEY), so a copy of the
database opens nothing; rotating SECRET_KEY ends every link.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac

from cases.choices import CaseStatus
from cases.models import Case
from collections_crm.audit.services import audit_record

from .activity import case_portal_touch
from .models import LinkSource, PortalLink, PortalSettings

# Crockford's base32 without the letters people misread (I, L, O, U).
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 10
_CODE_CLEAN_RE = re.compile(r"[^0-9A-Z]")
_CODE_MISREAD = str.maketrans({"O": "0", "I": "1", "L": "1"})


def _digest(kind: str, value: str) -> str:
    return salted_hmac(f"selfservice.link.{kind}", value, algorithm="sha256").hexdigest()


def normalise_code(code: str) -> str:
    """What the debtor typed, as the code was issued: upper case, no spaces or dashes, and the
    letters people type for digits (O for 0, I or L for 1) read as the digits."""
    return _CODE_CLEAN_RE.sub("", (code or "").upper().translate(_CODE_MISREAD))


def format_code(code: str) -> str:
    return f"{code[:5]}-{code[5:]}"


SETTINGS_CACHE_KEY = "selfservice:portal-settings"


def portal_settings() -> PortalSettings:
    """The admin's portal policy, read once a minute per cache (every portal page needs it);
    ``portal_settings_changed`` drops the cached copy when an admin saves."""
    conf = cache.get(SETTINGS_CACHE_KEY)
    if conf is None:
        conf = PortalSettings.objects.filter(pk=1).first() or PortalSettings(pk=1)
        cache.set(SETTINGS_CACHE_KEY, conf, 60)
    return conf


def portal_settings_changed() -> None:
    cache.delete(SETTINGS_CACHE_KEY)


@dataclass(frozen=True)
class IssuedLink:
    link: PortalLink
    url: str  # shown once: only its digest is kept
    code: str  # formatted XXXXX-XXXXX


def link_issue(*, case_id: int, source: str, actor=None, now: dt.datetime | None = None) -> IssuedLink:
    """A new personal link to the case, valid for the admin's number of days."""
    now = now or timezone.now()
    token = secrets.token_urlsafe(32)
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    conf = portal_settings()
    with transaction.atomic():
        link = PortalLink.objects.create(
            case_id=case_id, token_digest=_digest("token", token), code_digest=_digest("code", code), source=source,
            created_at=now, created_by=actor if getattr(actor, "pk", None) else None,
            expires_at=now + dt.timedelta(days=conf.link_valid_days),
        )
        audit_record(actor=actor, action="portal.link_issued", obj=link, case_id=case_id,
                     after={"source": source, "expires_at": link.expires_at.isoformat()}, at=now)
    return IssuedLink(link=link, url=settings.CRM_PORTAL_BASE_URL + reverse("portal:open", args=[token]), code=format_code(code))


def link_for_message(*, case_id: int, source: str, now: dt.datetime) -> tuple[str, str]:
    """Answers contacts.hooks.portal_link: the URL and short code a message carries."""
    issued = link_issue(case_id=case_id, source=source if source in LinkSource.values else LinkSource.AGENT, now=now)
    return issued.url, issued.code


def link_by_token(token: str) -> PortalLink | None:
    if not token or len(token) > 100:
        return None
    return PortalLink.objects.filter(token_digest=_digest("token", token)).first()


def link_by_code(code: str) -> PortalLink | None:
    code = normalise_code(code)
    if len(code) != CODE_LENGTH:
        return None
    return PortalLink.objects.filter(code_digest=_digest("code", code)).first()


# Why a link no longer opens anything (the portal shows one page for all of them, saying only
# that the link has ended and how to reach us: it must not tell a finder about the debt).
EXPIRED, REVOKED, CASE_CLOSED, DEBTOR_STOPPED = "expired", "revoked", "case_closed", "debtor_stopped"


def link_problem(*, link: PortalLink, case: Case, now: dt.datetime) -> str:
    """"" when the link works; otherwise why not. ``case`` carries its debtor (select_related)."""
    if link.revoked_at is not None:
        return REVOKED
    if link.expires_at <= now:
        return EXPIRED
    if case.status in (CaseStatus.PAID, CaseStatus.CLOSED):
        return CASE_CLOSED
    debtor = case.debtor
    if debtor.cease_communication or debtor.attorney_represented or debtor.deceased or debtor.anonymised_at is not None:
        return DEBTOR_STOPPED
    return ""


def link_record_open(*, link: PortalLink, now: dt.datetime) -> None:
    """Count a visit (click-through): one UPDATE; the audit row of the first opening only, so a
    debtor reloading the page does not fill the timeline."""
    first = link.first_opened_at is None
    with transaction.atomic():
        PortalLink.objects.filter(pk=link.pk).update(
            open_count=F("open_count") + 1, last_opened_at=now,
            **({"first_opened_at": now} if first else {}),
        )
        if first:
            audit_record(actor=None, action="portal.link_opened", obj=link, case_id=link.case_id,
                         after={"source": link.source}, at=now)
            case_portal_touch(case_id=link.case_id, now=now)
    link.first_opened_at = link.first_opened_at or now
    link.last_opened_at = now


def links_revoke(*, case_id: int, actor, now: dt.datetime | None = None) -> int:
    """End every working link of the case (an agent's decision: the debtor lost the letter, the
    link went to the wrong person). Returns how many ended."""
    now = now or timezone.now()
    with transaction.atomic():
        ids = list(PortalLink.objects.select_for_update().filter(case_id=case_id, revoked_at__isnull=True, expires_at__gt=now)
                   .values_list("pk", flat=True))
        if ids:
            PortalLink.objects.filter(pk__in=ids).update(revoked_at=now, revoked_by=actor)
            case = Case.objects.get(pk=case_id)
            audit_record(actor=actor, action="portal.links_revoked", obj=case, after={"links": len(ids)}, at=now)
    return len(ids)
