"""The interface every payment provider implements.

The portal starts a payment with ``begin`` (where to send the debtor's browser) and the provider
confirms it later with a signed callback (server to server), which ``parse_callback`` verifies
and reads. Nothing is posted on the debtor's return to our site: only a verified callback posts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..models import Checkout


class SignatureError(Exception):
    """The callback's signature is missing or wrong: refused and recorded, never acted on."""


@dataclass(frozen=True)
class Redirect:
    """Where the debtor's browser goes to pay: a GET to ``url``, or (``fields`` set) a form
    POSTed to it (Redsys)."""

    url: str
    fields: Mapping[str, str] = field(default_factory=dict)
    provider_ref: str = ""  # the provider's id of the payment, when it gives one at once (Stripe)


@dataclass(frozen=True)
class CallbackEvent:
    """A verified callback. ``event_id`` is unique per provider (a replay repeats it); ``order`` is
    our Checkout.order; ``paid`` True (captured), False (declined, expired) or None (an event about
    something else, ignored)."""

    event_id: str
    order: str
    paid: bool | None
    amount: Decimal | None = None
    currency: str = ""
    provider_ref: str = ""
    detail: Mapping[str, str] = field(default_factory=dict)  # type and status names only, no card data


class Provider(Protocol):
    name: str
    # The ways to pay it offers (cases.choices.PaymentMethod values), the first the default.
    methods: tuple[str, ...]

    def form_action_hosts(self) -> list[str]:
        """Origins the debtor's browser is sent to from a form (for the Content-Security-Policy)."""
        ...

    def begin(self, *, checkout: Checkout, success_url: str, cancel_url: str, notify_url: str, language: str,
              description: str) -> Redirect: ...

    def parse_callback(self, *, body: bytes, headers: Mapping[str, str], form: Mapping[str, str]) -> CallbackEvent:
        """Verify and read one callback; raise SignatureError when it is not genuine."""
        ...
