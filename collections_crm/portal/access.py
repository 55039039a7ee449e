"""Who is visiting: the personal link a portal session holds, and whether its debtor has proved
who they are.

The token in a message's URL is exchanged at once for a session (and the URL left), so no secret
stays in the address bar, the history or a Referer. The session holds only the link's id, whether
the identity was confirmed and when the visitor last acted; every request reads the link again,
so an agent's revocation, the case closing or a cease request ends a visit at its next click.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone, translation
from django.views.decorators.cache import never_cache

from cases.choices import CaseStatus
from cases.models import Case
from collections_crm.selfservice.links import link_problem, portal_settings
from collections_crm.selfservice.models import PortalLink, PortalSettings
from collections_crm.selfservice.selectors import link_with_case, portal_case

SESSION_KEY = "portal"


@dataclass
class Visit:
    link: PortalLink
    case: Case  # the link's case (with debtor and creditor)
    verified: bool
    settings: PortalSettings
    now: dt.datetime


def visit_start(request: HttpRequest, link: PortalLink) -> None:
    """A new visit on ``link`` (a new session key: no fixation), identity not yet confirmed."""
    request.session.cycle_key()
    request.session[SESSION_KEY] = {"link": link.pk, "verified": False, "at": timezone.now().timestamp()}


def visit_verified(request: HttpRequest) -> None:
    request.session.cycle_key()
    data = dict(request.session.get(SESSION_KEY) or {})
    data.update(verified=True, at=timezone.now().timestamp())
    request.session[SESSION_KEY] = data


def visit_end(request: HttpRequest) -> None:
    request.session.pop(SESSION_KEY, None)


def current_visit(request: HttpRequest, *, paid_ok: bool = False) -> Visit | None | str:
    """The visit, None when the session holds no link, or a link problem code when it ended.
    ``paid_ok``: a case paid in full still shows (the thank-you page after the last payment)."""
    data = request.session.get(SESSION_KEY)
    if not data or "link" not in data:
        return None
    link = link_with_case(link_id=data["link"])
    now = timezone.now()
    if link is None:
        return "revoked"
    problem = link_problem(link=link, case=link.case, now=now)
    if problem and not (paid_ok and problem == "case_closed" and link.case.status == CaseStatus.PAID):
        return problem
    conf = portal_settings()
    verified = bool(data.get("verified")) and now.timestamp() - float(data.get("at", 0)) <= conf.session_minutes * 60
    if data.get("verified") and not verified:
        data = {**data, "verified": False}
        request.session[SESSION_KEY] = data
    if verified:
        request.session[SESSION_KEY] = {**data, "at": now.timestamp()}
    return Visit(link=link, case=link.case, verified=verified, settings=conf, now=now)


def _zone(name: str) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def _language(request: HttpRequest, visit: Visit | None) -> str:
    """The language the visitor chose (the switch sets Django's language cookie), else the
    debtor's own."""
    chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
    if chosen in dict(settings.LANGUAGES):
        return chosen
    if visit is not None and visit.case.debtor.language in dict(settings.LANGUAGES):
        return visit.case.debtor.language
    return translation.get_language() or settings.LANGUAGE_CODE


def portal_view(*, verified: bool = True, case: bool = False, paid_ok: bool = False) -> Callable:
    """Wrap a portal view: public to Django's login (the debtor is not a user), never cached, in
    the visitor's language. ``verified``: the identity must have been confirmed (otherwise to the
    check); ``case``: the URL's case_id must be one of the visit's cases (else 404, whoever asks).
    The view receives ``visit`` (and ``case``)."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            visit = current_visit(request, paid_ok=paid_ok)
            if isinstance(visit, str):
                visit_end(request)
                request.session["portal_ended"] = visit
                return redirect("portal:ended")
            if visit is None:
                return redirect("portal:start")
            if verified and not visit.verified:
                return redirect("portal:verify")
            # Times on the pages (a lock's end, a call-back) in the debtor's own zone.
            with translation.override(_language(request, visit)), timezone.override(_zone(visit.case.debtor.timezone)):
                request.LANGUAGE_CODE = translation.get_language()
                if case:
                    chosen = portal_case(case=visit.case, case_id=kwargs.pop("case_id"))
                    if chosen is None:
                        raise Http404
                    kwargs["case"] = chosen
                response = view(request, *args, visit=visit, **kwargs)
                if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                    response.render()
                return response

        return login_not_required(never_cache(wrapper))

    return decorate


def portal_public(view: Callable) -> Callable:
    """A portal page anyone may open (the code entry, the ended-link page)."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        with translation.override(_language(request, None)):
            request.LANGUAGE_CODE = translation.get_language()
            return view(request, *args, **kwargs)

    return login_not_required(never_cache(wrapper))
