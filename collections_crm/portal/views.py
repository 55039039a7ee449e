"""The debtor's self-service pages (/p/…): thin views over collections_crm.selfservice.

Reach: a message's link (``open``) or a letter's short code (``start``), then the identity check
(``verify``), then the debtor's cases of that creditor and what they can do on each. Every page
but the first two needs a confirmed identity (collections_crm.portal.access).
"""

from __future__ import annotations

import datetime as dt
import time
import uuid

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from cases.choices import PlanFrequency
from collections_crm.accounts import ratelimit
from collections_crm.core.forms import apply_validation_error
from collections_crm.selfservice import identity, payments, selectors, services
from collections_crm.selfservice.links import link_by_code, link_by_token, link_problem, link_record_open
from collections_crm.selfservice.models import CheckoutStatus
from collections_crm.selfservice.providers import get_provider
from collections_crm.selfservice.providers import sandbox as sandbox_provider

from . import forms
from .access import Visit, portal_public, portal_view, visit_end, visit_start, visit_verified

# Wrong codes typed from one address, per quarter hour: a code is 50 random bits, and this keeps
# guessing one out of reach while a debtor mistyping theirs is never stopped.
CODE_TRIES_PER_WINDOW = 10
CODE_WINDOW_SECONDS = 15 * 60


def _client(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR") or "unknown"


# --- Getting in ---------------------------------------------------------------------------------


@portal_public
@require_http_methods(["GET", "POST"])
def start(request: HttpRequest) -> HttpResponse:
    """The portal's front door: type the code printed on a letter."""
    form = forms.CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        allowed = ratelimit.hit(key=f"portal_code:{_client(request)}", limit=CODE_TRIES_PER_WINDOW,
                                window=CODE_WINDOW_SECONDS, now=time.time())
        if not allowed.allowed:
            form.add_error(None, _("Too many attempts. Please wait a few minutes and try again."))
            return render(request, "portal/start.html", {"form": form}, status=429)
        found = link_by_code(form.cleaned_data["code"])
        link = selectors.link_with_case(link_id=found.pk) if found is not None else None
        if link is not None and not link_problem(link=link, case=link.case, now=timezone.now()):
            visit_start(request, link)
            link_record_open(link=link, now=timezone.now())
            return redirect("portal:verify")
        # Wrong, expired or ended: one answer for all (it tells a guesser nothing).
        form.add_error("code", _("This code does not open anything. Check it, or call us."))
    return render(request, "portal/start.html", {"form": form})


@portal_public
def open_link(request: HttpRequest, token: str) -> HttpResponse:
    """A message's personal link: exchanged for a session, then off the address bar."""
    link = link_by_token(token)
    now = timezone.now()
    if link is None:
        request.session["portal_ended"] = "unknown"
        return redirect("portal:ended")
    link_case = selectors.link_with_case(link_id=link.pk)
    problem = link_problem(link=link, case=link_case.case, now=now) if link_case else "revoked"
    if problem:
        request.session["portal_ended"] = problem
        return redirect("portal:ended")
    held = request.session.get("portal") or {}
    if held.get("link") != link.pk:
        visit_start(request, link)
    link_record_open(link=link, now=now)
    return redirect("portal:verify")


@portal_view(verified=False)
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest, visit: Visit) -> HttpResponse:
    if visit.verified:
        return redirect("portal:home")
    now = timezone.now()
    locked = visit.link.locked_until if visit.link.locked_until and visit.link.locked_until > now else None
    form = forms.IdentityForm(request.POST or None)
    status, failure = 200, ""
    if request.method == "POST" and form.is_valid() and locked is None:
        result = identity.identity_check(link_id=visit.link.pk, document_end=form.cleaned_data["document_end"],
                                         postal_code=form.cleaned_data["postal_code"],
                                         birth_date=form.cleaned_data["birth_date"], now=now)
        if result.ok:
            visit_verified(request)
            return redirect("portal:home")
        locked = result.locked_until
        # The answers are not echoed back (a shared phone), and the message does not say which
        # one was wrong.
        form = forms.IdentityForm()
        if locked is None:
            failure = _("These answers do not match our records. %(n)s attempts left.") % {"n": result.attempts_left}
        status = 400
    if locked is not None:
        status = 429 if request.method == "POST" else 200
    return render(request, "portal/verify.html", {
        "form": form, "failure": failure, "visit": visit, "creditor": visit.case.creditor, "locked_until": locked,
        "help_text": visit.settings.text("help", request.LANGUAGE_CODE),
    }, status=status)


@portal_public
def ended(request: HttpRequest) -> HttpResponse:
    """One page for every link that no longer works: it says what to do, not why (a finder of
    the link learns nothing), except that an expired link can be asked for again."""
    why = request.session.pop("portal_ended", "")
    return render(request, "portal/ended.html", {"expired": why == "expired"}, status=410 if why else 200)


@portal_public
@require_POST
def leave(request: HttpRequest) -> HttpResponse:
    visit_end(request)
    messages.info(request, _("You have left. Thank you."))
    return redirect("portal:start")


# --- The debtor's cases -----------------------------------------------------------------------


@portal_view()
def home(request: HttpRequest, visit: Visit) -> HttpResponse:
    cases = list(selectors.portal_cases(case=visit.case)[:50])
    if len(cases) == 1:
        return redirect("portal:case", case_id=cases[0].pk)
    return render(request, "portal/home.html", {"visit": visit, "cases": cases,
                                                "welcome": visit.settings.text("welcome", request.LANGUAGE_CODE)})


def _page(request: HttpRequest, visit: Visit, case, template: str, extra: dict | None = None, status: int = 200) -> HttpResponse:
    context = {"visit": visit, "case": case, "creditor": case.creditor, **selectors.case_page(case=case),
               "help_text": visit.settings.text("help", request.LANGUAGE_CODE), "settings": visit.settings, **(extra or {})}
    return render(request, template, context, status=status)


@portal_view(case=True)
def case_detail(request: HttpRequest, visit: Visit, case) -> HttpResponse:
    return _page(request, visit, case, "portal/case.html", {
        "welcome": visit.settings.text("welcome", request.LANGUAGE_CODE),
        "several": selectors.portal_cases(case=visit.case).exclude(pk=case.pk).exists(),
    })


@portal_view(case=True)
@require_http_methods(["GET", "POST"])
def pay(request: HttpRequest, visit: Visit, case) -> HttpResponse:
    if not settings.CRM_PAYMENT_PROVIDER:
        # No online payment here: the page says how else to pay, and a POST changes nothing.
        return _page(request, visit, case, "portal/pay.html", {"form": None}, status=200 if request.method == "GET" else 400)
    form = forms.AmountForm(request.POST or None, initial={"amount": case.balance}, methods=get_provider().methods)
    if request.method == "POST" and form.is_valid():
        try:
            checkout = payments.checkout_start(case_id=case.pk, link_id=visit.link.pk, amount=form.cleaned_data["amount"],
                                               method=form.cleaned_data.get("method") or "")
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            return _begin(request, checkout, case)
    return _page(request, visit, case, "portal/pay.html", {"form": form}, status=400 if form.errors else 200)


def _begin(request: HttpRequest, checkout, case) -> HttpResponse:
    provider = get_provider(checkout.provider)
    # The public address, not the request's host: behind a proxy the provider must be sent to
    # the address debtors and providers reach.
    base = settings.CRM_PORTAL_BASE_URL
    try:
        target = provider.begin(
            checkout=checkout, language=request.LANGUAGE_CODE,
            success_url=base + reverse("portal:payment_return", args=[checkout.public_id]),
            cancel_url=base + reverse("portal:payment_cancel", args=[checkout.public_id]),
            notify_url=base + reverse("payment_callback", args=[checkout.provider]),
            description=_("%(creditor)s, reference %(reference)s") % {"creditor": case.creditor.name, "reference": case.reference},
        )
    except Exception:  # noqa: BLE001 - any provider failure: the debtor is told, nothing is posted
        payments.checkout_cancel(checkout_id=checkout.pk, reason="provider unavailable")
        messages.error(request, _("The payment service is not available right now. Please try again later."))
        return redirect("portal:case", case_id=case.pk)
    payments.checkout_began(checkout_id=checkout.pk, provider_ref=target.provider_ref)
    # A provider that takes a form POST (Redsys) gets a page that posts it (a button without
    # JavaScript); the others a redirect.
    response = redirect(target.url) if not target.fields else render(request, "portal/redirect_post.html", {"target": target})
    hosts = provider.form_action_hosts()
    if hosts:
        # Browsers hold a form's redirect to form-action too: the provider's origin is allowed on
        # this response only (read by django-csp's middleware).
        response._csp_update = {"form-action": hosts}  # type: ignore[attr-defined]
    return response


@portal_view(paid_ok=True)
def payment_return(request: HttpRequest, visit: Visit, public_id: uuid.UUID) -> HttpResponse:
    """Where the provider sends the debtor back. Nothing is posted here: the signed callback
    does it, so the page shows the checkout's state (and refreshes while it waits)."""
    checkout = selectors.checkout_for_visit(case=visit.case, public_id=public_id)
    if checkout is None:
        raise Http404
    return render(request, "portal/payment_return.html", {"visit": visit, "checkout": checkout, "case": checkout.case,
                                                          "creditor": checkout.case.creditor, "statuses": CheckoutStatus})


@portal_view()
def payment_cancel(request: HttpRequest, visit: Visit, public_id: uuid.UUID) -> HttpResponse:
    checkout = selectors.checkout_for_visit(case=visit.case, public_id=public_id)
    if checkout is None:
        raise Http404
    payments.checkout_cancel(checkout_id=checkout.pk, reason="debtor returned without paying")
    messages.info(request, _("The payment was not made. You can try again whenever you like."))
    return redirect("portal:case", case_id=checkout.case_id)


@portal_view()
@require_http_methods(["GET", "POST"])
def sandbox_checkout(request: HttpRequest, visit: Visit, public_id: uuid.UUID) -> HttpResponse:
    """The sandbox provider's checkout page: pay or decline with a test card. Its server side
    sends the same signed callback a real provider would, to the same handler."""
    checkout = selectors.checkout_for_visit(case=visit.case, public_id=public_id)
    if checkout is None or checkout.provider != "sandbox" or settings.CRM_PAYMENT_PROVIDER != "sandbox":
        raise Http404
    if request.method == "POST" and checkout.status == CheckoutStatus.PENDING:
        paid = request.POST.get("action") == "pay"
        body = sandbox_provider.callback_body(event_id=f"evt_{uuid.uuid4().hex}", order=checkout.order, paid=paid,
                                              amount=checkout.amount, currency=checkout.currency)
        payments.callback_receive(provider_name="sandbox", body=body, headers={sandbox_provider.HEADER: sandbox_provider.sign(body)},
                                  form={}, remote_addr=_client(request))
        return redirect("portal:payment_return", public_id=checkout.public_id)
    return render(request, "portal/sandbox_checkout.html", {"visit": visit, "checkout": checkout, "case": checkout.case,
                                                            "creditor": checkout.case.creditor})


@portal_view(case=True)
@require_http_methods(["GET", "POST"])
def promise(request: HttpRequest, visit: Visit, case) -> HttpResponse:
    form = forms.PromiseForm(request.POST or None, initial={"amount": case.balance})
    if request.method == "POST" and form.is_valid():
        try:
            services.portal_promise(case_id=case.pk, amount=form.cleaned_data["amount"], due_date=form.cleaned_data["due_date"])
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, _("Thank you. We have noted your promise to pay."))
            return redirect("portal:case", case_id=case.pk)
    latest = timezone.localdate() + dt.timedelta(days=visit.settings.promise_max_days)
    return _page(request, visit, case, "portal/promise.html", {"form": form, "latest": latest, "today": timezone.localdate()},
                 status=400 if form.errors else 200)


@portal_view(case=True)
@require_http_methods(["GET", "POST"])
def plan(request: HttpRequest, visit: Visit, case) -> HttpResponse:
    today = timezone.localdate()
    choice = forms.PlanChoiceForm(request.POST if "option" in request.POST else None)
    proposal = forms.PlanProposalForm(request.POST if "count" in request.POST else None)
    if request.method == "POST":
        chosen = None
        if choice.is_bound and choice.is_valid():
            chosen = choice.cleaned_data["option"]
        elif proposal.is_bound and proposal.is_valid():
            chosen = (proposal.cleaned_data["count"], proposal.cleaned_data["frequency"])
        if chosen is not None:
            form = choice if choice.is_bound else proposal
            try:
                made = services.portal_plan(case_id=case.pk, count=chosen[0], frequency=chosen[1])
            except ValidationError as exc:
                apply_validation_error(form, exc)
            else:
                if made.status == "active":
                    messages.success(request, _("Your payment plan has started. The first instalment is due on %(date)s.") % {
                        "date": made.first_due_date.strftime("%d/%m/%Y")})
                else:
                    messages.info(request, _("We have received your proposal. We will answer you within two working days."))
                return redirect("portal:case", case_id=case.pk)
    options = services.plan_options(case=case, today=today) if visit.settings.allow_plans else []
    failed = (choice.is_bound and choice.errors) or (proposal.is_bound and proposal.errors)
    return _page(request, visit, case, "portal/plan.html", {
        "options": options, "choice": choice, "proposal": proposal, "first_date": services.plan_first_date(today),
        "frequencies": PlanFrequency.choices,
    }, status=400 if failed else 200)


@portal_view(case=True)
@require_http_methods(["GET", "POST"])
def documents(request: HttpRequest, visit: Visit, case) -> HttpResponse:
    form = forms.DocumentRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.portal_document_request(case_id=case.pk, kind=form.cleaned_data["kind"], words=form.cleaned_data["words"])
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, _("We have received your request. We will send it to you as soon as possible."))
            return redirect("portal:case", case_id=case.pk)
    return _page(request, visit, case, "portal/documents.html", {"form": form}, status=400 if form.errors else 200)


@portal_view(case=True)
def statement_download(request: HttpRequest, visit: Visit, case) -> HttpResponse:
    pdf = services.portal_statement(case=case)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="statement-{case.pk}.pdf"'
    return response


@portal_view(case=True)
@require_http_methods(["GET", "POST"])
def dispute(request: HttpRequest, visit: Visit, case) -> HttpResponse:
    form = forms.DisputeForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.portal_dispute(case_id=case.pk, reason=form.cleaned_data["reason"], upload=form.cleaned_data["upload"])
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, _("We have received your dispute. We will not ask you to pay while we review it, "
                                        "and we will answer you in writing."))
            return redirect("portal:case", case_id=case.pk)
    return _page(request, visit, case, "portal/dispute.html", {"form": form}, status=400 if form.errors else 200)


@portal_view(case=True)
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest, visit: Visit, case) -> HttpResponse:
    zone = case.debtor.timezone
    form = forms.PreferencesForm(request.POST or None, zone=zone, initial={"preferred_time": case.debtor.preferred_contact_time})
    refused = None
    if request.method == "POST" and form.is_valid():
        try:
            result = services.portal_preferences(case_id=case.pk, opt_out=form.cleaned_data["opt_out"],
                                                 callback_at=form.cleaned_data["callback_at"],
                                                 preferred_time=form.cleaned_data["preferred_time"])
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            if result.callback_refused:
                refused = result
            else:
                messages.success(request, _("Your preferences are saved."))
                return redirect("portal:case", case_id=case.pk)
    return _page(request, visit, case, "portal/preferences.html", {"form": form, "refused": refused, "zone": zone},
                 status=400 if form.errors or refused else 200)
