"""Online payment providers behind one interface (base.Provider): the embedded sandbox (the
default), Stripe and Redsys. ``get_provider()`` returns the one settings.CRM_PAYMENT_PROVIDER
names."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .base import CallbackEvent, Provider, Redirect, SignatureError

PROVIDERS = {
    "sandbox": "collections_crm.selfservice.providers.sandbox.SandboxProvider",
    "stripe": "collections_crm.selfservice.providers.stripe.StripeProvider",
    "redsys": "collections_crm.selfservice.providers.redsys.RedsysProvider",
}


def get_provider(name: str | None = None) -> Provider:
    name = name or settings.CRM_PAYMENT_PROVIDER
    if name not in PROVIDERS:
        raise ImproperlyConfigured(f"Unknown payment provider {name!r}: choose one of {', '.join(PROVIDERS)}.")
    return import_string(PROVIDERS[name])()


__all__ = ["PROVIDERS", "CallbackEvent", "Provider", "Redirect", "SignatureError", "get_provider"]
