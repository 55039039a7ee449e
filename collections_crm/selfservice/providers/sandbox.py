"""The embedded sandbox provider: a checkout page of our own (collections_crm.portal's
``sandbox_checkout``) where the debtor pays or declines with a test card, confirmed through a
signed callback exactly as a real provider confirms, so the whole loop runs with ./run.sh.

The callback is JSON signed like Stripe's: header ``X-Sandbox-Signature: t=<unix time>,v1=<hex
HMAC-SHA256 of "<t>.<body>">`` with settings.CRM_SANDBOX_SECRET (derived from SECRET_KEY when
empty); a signature older than five minutes is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.urls import reverse
from django.utils.crypto import salted_hmac

from .base import CallbackEvent, Redirect, SignatureError

HEADER = "X-Sandbox-Signature"
TOLERANCE_SECONDS = 300


def _secret() -> bytes:
    return (settings.CRM_SANDBOX_SECRET or salted_hmac("selfservice.sandbox", "secret").hexdigest()).encode()


def sign(body: bytes, *, timestamp: int | None = None) -> str:
    """The signature header for ``body`` (what the sandbox's checkout page sends)."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(_secret(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def callback_body(*, event_id: str, order: str, paid: bool, amount: Decimal, currency: str) -> bytes:
    return json.dumps({"id": event_id, "type": "payment.succeeded" if paid else "payment.declined",
                       "order": order, "amount": str(amount), "currency": currency}, separators=(",", ":")).encode()


class SandboxProvider:
    name = "sandbox"
    methods = ("card",)

    def form_action_hosts(self) -> list[str]:
        return []  # our own pages

    def begin(self, *, checkout, success_url: str, cancel_url: str, notify_url: str, language: str, description: str) -> Redirect:
        return Redirect(url=reverse("portal:sandbox_checkout", args=[checkout.public_id]))

    def parse_callback(self, *, body: bytes, headers: Mapping[str, str], form: Mapping[str, str]) -> CallbackEvent:
        header = headers.get(HEADER, "")
        parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
        try:
            t = int(parts.get("t", ""))
        except ValueError:
            raise SignatureError("no timestamp") from None
        expected = hmac.new(_secret(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, parts.get("v1", "")):
            raise SignatureError("signature mismatch")
        if abs(time.time() - t) > TOLERANCE_SECONDS:
            raise SignatureError("signature too old")
        try:
            data = json.loads(body)
            amount = Decimal(str(data["amount"]))
            return CallbackEvent(
                event_id=str(data["id"]), order=str(data["order"]), amount=amount, currency=str(data.get("currency", "")),
                paid={"payment.succeeded": True, "payment.declined": False}.get(data.get("type")),
                provider_ref=str(data["id"]), detail={"type": str(data.get("type", ""))},
            )
        except (ValueError, KeyError, TypeError, InvalidOperation):
            raise SignatureError("malformed body") from None
