"""Redsys (TPV Virtual: Spanish cards), redirection method, signature HMAC_SHA256_V1.

The debtor's browser POSTs a signed form (Ds_SignatureVersion, Ds_MerchantParameters,
Ds_Signature) to Redsys's payment page; Redsys then POSTs the same three fields, signed with the
merchant's key, to DS_MERCHANT_MERCHANTURL (our ``notify_url``,
``<CRM_PORTAL_BASE_URL>/webhooks/payments/redsys/``) with the result.

Signing, the merchant parameters' wire format and limits (order, lengths, currency codes and
decimals) come from python-redsys; this module chooses what to send and reads the notification.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from redsys.api import currencies, languages, transactions
from redsys.clients import RedirectClient
from redsys.crypto import HMAC_SHA256_V1, get_signer
from redsys.models import Response, decode_merchant_parameters
from redsys.request import MERCHANT_PARAMETERS, SIGNATURE, SIGNATURE_VERSION

from .base import CallbackEvent, Redirect, SignatureError

if TYPE_CHECKING:
    from ..models import Checkout

ENDPOINTS = {"test": RedirectClient.TEST_ENDPOINT, "live": RedirectClient.REAL_ENDPOINT}
# The version we sign with is the only one a notification may use: every version is keyed by our
# secret, but the SHA-512 ones only by its first 16 characters.
SIGNATURE_VERSION_USED = HMAC_SHA256_V1
# ISO 4217 alphabetic code -> Redsys's numeric one, for the currencies Redsys takes.
NUMERIC_CURRENCY = {name: code for name, code in vars(currencies).items()
                    if len(name) == 3 and name.isupper() and code in currencies.CURRENCIES}
ALPHA_CURRENCY = {code: name for name, code in NUMERIC_CURRENCY.items()}
LANGUAGES = {"es": languages.SPANISH, "en": languages.ENGLISH}  # 001, 002


def _environment() -> str:
    environment = settings.REDSYS_ENVIRONMENT
    if environment not in ENDPOINTS:
        raise ImproperlyConfigured(f"REDSYS_ENVIRONMENT must be 'test' or 'live', not {environment!r}.")
    return environment


def _secret() -> str:
    if not settings.REDSYS_SECRET_KEY:
        raise ImproperlyConfigured("CRM_PAYMENT_PROVIDER=redsys needs REDSYS_SECRET_KEY.")
    return settings.REDSYS_SECRET_KEY


def _urlsafe(signature: str | bytes) -> bytes:
    # Redsys signs requests in standard Base64 and its notifications in URL-safe Base64: compare
    # in one alphabet, without the padding (it only follows from the length).
    value = signature.encode("ascii", "replace") if isinstance(signature, str) else signature
    return value.replace(b"+", b"-").replace(b"/", b"_").rstrip(b"=")


class RedsysProvider:
    name = "redsys"
    # Cards, and Bizum (the Spanish banks' mobile payments) on the same TPV: DS_MERCHANT_PAYMETHODS "z".
    methods = ("card", "bizum")

    def form_action_hosts(self) -> list[str]:
        parts = urlsplit(ENDPOINTS[_environment()])
        return [f"{parts.scheme}://{parts.netloc}"]

    def begin(self, *, checkout: Checkout, success_url: str, cancel_url: str, notify_url: str, language: str,
              description: str) -> Redirect:
        if not settings.REDSYS_MERCHANT_CODE:
            raise ImproperlyConfigured("CRM_PAYMENT_PROVIDER=redsys needs REDSYS_MERCHANT_CODE.")
        if checkout.currency not in NUMERIC_CURRENCY:
            raise ValueError(f"Redsys does not take {checkout.currency}")
        client = RedirectClient(
            _secret(), merchant_code=settings.REDSYS_MERCHANT_CODE, terminal=int(settings.REDSYS_TERMINAL),
            sandbox=_environment() == "test", signature_version=SIGNATURE_VERSION_USED,
        )
        request = client.payment(
            order=checkout.order,
            amount=checkout.amount,  # sent in the currency's minor units (cents)
            currency=NUMERIC_CURRENCY[checkout.currency],
            merchant_url=notify_url,
            url_ok=success_url,
            url_ko=cancel_url,
            consumer_language=LANGUAGES.get(language.split("-")[0].lower(), languages.SPANISH),
            product_description=description[:125] or None,
            **({"pay_methods": "z"} if checkout.method == "bizum" else {}),
        )
        # No provider reference yet: Redsys names the payment by our order.
        return Redirect(url=ENDPOINTS[_environment()], fields=request.to_dict())

    def parse_callback(self, *, body: bytes, headers: Mapping[str, str], form: Mapping[str, str]) -> CallbackEvent:
        if not form:
            # Redsys posts a form; read it from the body if it came with another content type.
            form = dict(parse_qsl(body.decode("utf-8", "replace")))
        version = form.get(SIGNATURE_VERSION, "")
        params = form.get(MERCHANT_PARAMETERS, "")
        signature = form.get(SIGNATURE, "")
        if not (params and signature):
            raise SignatureError("missing signature or parameters")
        if version != SIGNATURE_VERSION_USED:
            raise SignatureError("unexpected signature version")
        params_bytes = params.encode("ascii", "replace")
        try:
            # The key that signs is derived from the order, so it is read before the check.
            order = str(decode_merchant_parameters(params_bytes).get("Ds_Order") or "")
        except (ValueError, UnicodeDecodeError, AttributeError):
            raise SignatureError("malformed parameters") from None
        expected = get_signer(_secret(), SIGNATURE_VERSION_USED).sign(order, params_bytes)
        if not order or not hmac.compare_digest(_urlsafe(expected), _urlsafe(signature)):
            raise SignatureError("signature mismatch")
        try:
            response = Response.from_merchant_parameters(params_bytes)
        except ValueError:  # pydantic's ValidationError is one
            raise SignatureError("malformed parameters") from None
        code = response.response or ""
        kind = response.transaction_type or str(transactions.AUTHORIZATION)
        # Only an authorisation settles a checkout; a refund or cancellation made in Redsys's
        # console also notifies, and is not a decline.
        paid = response.is_paid() if kind == str(transactions.AUTHORIZATION) and code else None
        return CallbackEvent(
            # Redsys repeats a notification unchanged, and an order is paid at most once.
            event_id=f"{order}:{code}:{response.authorization_code or ''}".replace(" ", ""),
            order=order,
            paid=paid,
            amount=response.amount,
            currency=ALPHA_CURRENCY.get(response.currency, str(response.currency or "")) if response.currency else "",
            provider_ref=(response.authorization_code or "").strip(),
            detail={"type": f"transaction_type_{kind}", "status": code},
        )
