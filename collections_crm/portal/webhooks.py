"""Payment provider callbacks (server to server): one endpoint per provider, no session, no
CSRF token (the provider's signature is the proof), verified and handled by
collections_crm.selfservice.payments.callback_receive."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from collections_crm.selfservice.models import CallbackOutcome
from collections_crm.selfservice.payments import callback_receive
from collections_crm.selfservice.providers import PROVIDERS

MAX_BODY = 256 * 1024


@csrf_exempt
@login_not_required
@require_POST
def payment_callback(request: HttpRequest, provider: str) -> HttpResponse:
    # The sandbox answers only where it is the configured provider (never beside a real one).
    if provider not in PROVIDERS or (provider == "sandbox" and settings.CRM_PAYMENT_PROVIDER != "sandbox"):
        raise Http404
    if len(request.body) > MAX_BODY:
        return HttpResponse(status=413)
    form = request.POST if request.content_type == "application/x-www-form-urlencoded" else {}
    outcome = callback_receive(provider_name=provider, body=request.body, headers=request.headers, form=form,
                               remote_addr=request.META.get("REMOTE_ADDR"))
    # A forged callback is refused; anything genuine is acknowledged (also a duplicate: the
    # provider must stop retrying it).
    return HttpResponse(outcome, status=400 if outcome == CallbackOutcome.FORGED else 200, content_type="text/plain")
