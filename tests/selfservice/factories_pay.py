"""Payment-provider test helpers: pending checkouts, and callbacks shaped and signed as each
provider sends them (Stripe's webhook events, Redsys's notifications, the sandbox's JSON).

The Redsys signature is computed here from the published algorithm, independently of the
python-redsys library the provider uses, so the tests check the library too."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes
from django.utils import timezone

from collections_crm.selfservice.models import Checkout

# Redsys's published test merchant (its integration guide and test environment).
REDSYS_TEST_KEY = "sq7HjrUOBfKmC576ILgskD5srU870gJ7"
REDSYS_TEST_MERCHANT = "999008881"
STRIPE_WEBHOOK_SECRET = "whsec_test_0123456789abcdefghijklmnopqrstuv"
STRIPE_SECRET_KEY = "sk_test_51offlineoffline"


def checkout_for(case, *, provider: str, amount: Decimal | str = "100.00", order: str | None = None, **fields) -> Checkout:
    """A pending checkout as checkout_start leaves it (written directly: no provider is asked)."""
    seq = Checkout.objects.count() + 1
    return Checkout.objects.create(
        order=order or f"2612T{seq:07d}", case=case, provider=provider, amount=Decimal(amount), currency=case.currency,
        created_at=timezone.now(), **fields)


# --- Stripe ----------------------------------------------------------------------------------


def stripe_session(checkout: Checkout, *, payment_status: str = "paid", status: str = "complete",
                   amount_total: int | None = None, session_id: str = "cs_test_a1B2c3D4e5F6g7H8") -> dict[str, Any]:
    """A Checkout Session object as Stripe's API and events carry it (fields we do not read
    included, so a test sees the real shape)."""
    cents = int(checkout.amount * 100) if amount_total is None else amount_total
    created = int(time.time()) - 120
    return {
        "id": session_id,
        "object": "checkout.session",
        "after_expiration": None,
        "allow_promotion_codes": None,
        "amount_subtotal": cents,
        "amount_total": cents,
        "automatic_tax": {"enabled": False, "liability": None, "status": None},
        "billing_address_collection": None,
        "cancel_url": f"https://crm.example.com/p/payment/{checkout.public_id}/cancel/",
        "client_reference_id": checkout.order,
        "client_secret": None,
        "consent": None,
        "created": created,
        "currency": checkout.currency.lower(),
        "custom_fields": [],
        "customer": None,
        "customer_creation": "if_required",
        "customer_details": None,
        "customer_email": None,
        "expires_at": created + 86400,
        "invoice": None,
        "livemode": False,
        "locale": "es",
        "metadata": {"order": checkout.order},
        "mode": "payment",
        "payment_intent": "pi_3QxOfflineTest0001" if payment_status == "paid" else None,
        "payment_method_types": ["card"],
        "payment_status": payment_status,
        "status": status,
        "submit_type": None,
        "success_url": f"https://crm.example.com/p/payment/{checkout.public_id}/",
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted",
        "url": None if status != "open" else "https://checkout.stripe.com/c/pay/cs_test_a1B2c3D4e5F6g7H8",
    }


def stripe_event(kind: str, session: dict[str, Any], *, event_id: str = "evt_1QxOfflineTestEvent01") -> bytes:
    """The body of a webhook event, serialized as Stripe sends it (pretty-printed JSON)."""
    event = {
        "id": event_id,
        "object": "event",
        "api_version": "2025-09-30.clover",
        "created": int(time.time()),
        "data": {"object": session},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": kind,
    }
    return json.dumps(event, indent=2).encode()


def stripe_signature(body: bytes, *, secret: str = STRIPE_WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """The Stripe-Signature header: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


# --- Redsys ----------------------------------------------------------------------------------


def redsys_operation_key(order: str, *, key: str = REDSYS_TEST_KEY) -> bytes:
    """HMAC_SHA256_V1's per-operation key: the order, zero-padded to 8 bytes, encrypted with
    3DES-CBC (IV of zeros) under the Base64-decoded merchant key."""
    data = order.encode()
    data += b"\0" * (-len(data) % 8)
    encryptor = Cipher(TripleDES(base64.b64decode(key)), modes.CBC(b"\0" * 8)).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def redsys_signature(order: str, merchant_parameters: str, *, key: str = REDSYS_TEST_KEY, urlsafe: bool = True) -> str:
    """HMAC-SHA256 of the Base64 merchant parameters under the operation key, in Base64 (URL-safe,
    as Redsys signs its notifications; standard, as a merchant signs its requests)."""
    mac = hmac.new(redsys_operation_key(order, key=key), merchant_parameters.encode(), hashlib.sha256).digest()
    return (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(mac).decode()


def redsys_notification(checkout: Checkout, *, response: str = "0000", authorisation: str = "091538",
                        amount_cents: int | None = None, currency: str = "978", key: str = REDSYS_TEST_KEY,
                        transaction_type: str = "0") -> dict[str, str]:
    """The form Redsys POSTs to DS_MERCHANT_MERCHANTURL, with the parameters its notifications
    carry (dates URL-encoded inside the JSON, as Redsys writes them)."""
    params = {
        "Ds_Date": "04%2F12%2F2026",
        "Ds_Hour": "18%3A45",
        "Ds_SecurePayment": "1",
        "Ds_Card_Country": "724",
        "Ds_Amount": str(int(checkout.amount * 100) if amount_cents is None else amount_cents),
        "Ds_Currency": currency,
        "Ds_Order": checkout.order,
        "Ds_MerchantCode": REDSYS_TEST_MERCHANT,
        "Ds_Terminal": "001",
        "Ds_Response": response,
        "Ds_MerchantData": "",
        "Ds_TransactionType": transaction_type,
        "Ds_ConsumerLanguage": "1",
        "Ds_AuthorisationCode": authorisation if response < "0100" else "++++++",
        "Ds_Card_Brand": "1",
        "Ds_ProcessedPayMethod": "78",
    }
    merchant_parameters = base64.b64encode(json.dumps(params, separators=(",", ":")).encode()).decode()
    return {
        "Ds_SignatureVersion": "HMAC_SHA256_V1",
        "Ds_MerchantParameters": merchant_parameters,
        "Ds_Signature": redsys_signature(checkout.order, merchant_parameters, key=key),
    }


def form_body(form: dict[str, str]) -> str:
    return urlencode(form)
