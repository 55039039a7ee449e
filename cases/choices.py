"""The domain's vocabulary as first-class values (DOMAIN.md). Codes are stable English
identifiers; labels are translated."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


class Objective(models.TextChoices):
    """The five objectives of a contact (seed 001)."""

    REMIND = "remind", _("Remind")
    REMOVE_BARRIERS = "remove_barriers", _("Remove barriers")
    GET_COMMITMENT = "get_commitment", _("Get a commitment")
    PRESSURE = "pressure", _("Pressure")
    CHANGE_TERMS = "change_terms", _("Change terms")


class CaseStatus(models.TextChoices):
    NEW = "new", _("New")
    ACTIVE = "active", _("In progress")
    PROMISED = "promised", _("Promise to pay")
    PLAN = "plan", _("Payment plan")
    DISPUTED = "disputed", _("Disputed")
    ON_HOLD = "on_hold", _("On hold")
    PAID = "paid", _("Paid")
    CLOSED = "closed", _("Closed")

    @classmethod
    def open_values(cls) -> list[str]:
        return [cls.NEW, cls.ACTIVE, cls.PROMISED, cls.PLAN, cls.DISPUTED, cls.ON_HOLD]

    @classmethod
    def workable_values(cls) -> list[str]:
        """Open and not paused: collection contact may go on."""
        return [cls.NEW, cls.ACTIVE, cls.PROMISED, cls.PLAN]


# Which status may follow which. Paid and closed are final, except that a reversed payment
# may reopen a paid case.
CASE_TRANSITIONS: dict[str, set[str]] = {
    CaseStatus.NEW: {CaseStatus.ACTIVE, CaseStatus.PROMISED, CaseStatus.PLAN, CaseStatus.DISPUTED,
                     CaseStatus.ON_HOLD, CaseStatus.PAID, CaseStatus.CLOSED},
    CaseStatus.ACTIVE: {CaseStatus.PROMISED, CaseStatus.PLAN, CaseStatus.DISPUTED, CaseStatus.ON_HOLD,
                        CaseStatus.PAID, CaseStatus.CLOSED},
    CaseStatus.PROMISED: {CaseStatus.ACTIVE, CaseStatus.PLAN, CaseStatus.DISPUTED, CaseStatus.ON_HOLD,
                          CaseStatus.PAID, CaseStatus.CLOSED},
    CaseStatus.PLAN: {CaseStatus.ACTIVE, CaseStatus.PROMISED, CaseStatus.DISPUTED, CaseStatus.ON_HOLD,
                      CaseStatus.PAID, CaseStatus.CLOSED},
    CaseStatus.DISPUTED: {CaseStatus.ACTIVE, CaseStatus.ON_HOLD, CaseStatus.PAID, CaseStatus.CLOSED},
    CaseStatus.ON_HOLD: {CaseStatus.ACTIVE, CaseStatus.DISPUTED, CaseStatus.PAID, CaseStatus.CLOSED},
    CaseStatus.PAID: {CaseStatus.ACTIVE},
    CaseStatus.CLOSED: set(),
}


class Channel(models.TextChoices):
    PHONE = "phone", _("Phone call")
    EMAIL = "email", _("E-mail")
    SMS = "sms", _("SMS")
    LETTER = "letter", _("Letter")
    VISIT = "visit", _("Visit")
    WHATSAPP = "whatsapp", _("WhatsApp")
    # The debtor acting on their own in the self-service portal (collections_crm.portal): an
    # inbound channel only, never planned, sent or logged by hand.
    PORTAL = "portal", _("Self-service portal")

    @classmethod
    def outreach_choices(cls) -> list[tuple[str, StrOrPromise]]:
        """The channels an agent, a cadence or a template can use: every one but the portal."""
        return [(value, label) for value, label in cls.choices if value != cls.PORTAL]


class Direction(models.TextChoices):
    OUTBOUND = "outbound", _("Outbound")
    INBOUND = "inbound", _("Inbound")


class Outcome(models.TextChoices):
    NO_ANSWER = "no_answer", _("No answer")
    BUSY = "busy", _("Busy")
    LEFT_MESSAGE = "left_message", _("Left message")
    WRONG_PARTY = "wrong_party", _("Wrong party")
    RIGHT_PARTY = "right_party", _("Right-party contact")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged the debt, no date")
    PROMISE = "promise", _("Promise to pay")
    PAYMENT = "payment", _("Payment")
    DISPUTE = "dispute", _("Dispute")
    REFUSAL = "refusal", _("Refusal to pay")
    EXCUSE = "excuse", _("Excuse")
    CALLBACK = "callback", _("Call back requested")
    SENT = "sent", _("Message sent")
    BOUNCED = "bounced", _("Message bounced")

    @classmethod
    def conversation_values(cls) -> list[str]:
        """Outcomes that mean we spoke with the debtor (Regulation F counts these)."""
        return [cls.RIGHT_PARTY, cls.ACKNOWLEDGED, cls.PROMISE, cls.PAYMENT, cls.DISPUTE, cls.REFUSAL, cls.EXCUSE, cls.CALLBACK]


class StatementKind(models.TextChoices):
    """Seed 004: an argument is a real reason to act on; an excuse is answered with options."""

    NONE = "", _("Not stated")
    ARGUMENT = "argument", _("Argument")
    EXCUSE = "excuse", _("Excuse")


class PromiseStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    KEPT = "kept", _("Kept")
    PARTIAL = "partial", _("Partially kept")
    BROKEN = "broken", _("Broken")
    CANCELLED = "cancelled", _("Cancelled")


class PaymentMethod(models.TextChoices):
    TRANSFER = "transfer", _("Bank transfer")
    CARD = "card", _("Card")
    DIRECT_DEBIT = "direct_debit", _("Direct debit")
    CASH = "cash", _("Cash")
    CHEQUE = "cheque", _("Cheque")
    BIZUM = "bizum", _("Bizum")
    OTHER = "other", _("Other")


class PlanStatus(models.TextChoices):
    PROPOSED = "proposed", _("Proposed")
    ACTIVE = "active", _("Active")
    COMPLETED = "completed", _("Completed")
    DEFAULTED = "defaulted", _("Defaulted")
    CANCELLED = "cancelled", _("Cancelled")


class PlanFrequency(models.TextChoices):
    WEEKLY = "weekly", _("Weekly")
    BIWEEKLY = "biweekly", _("Every two weeks")
    MONTHLY = "monthly", _("Monthly")


class InstalmentStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    PAID = "paid", _("Paid")
    PARTIAL = "partial", _("Partially paid")
    MISSED = "missed", _("Missed")


class BarrierKind(models.TextChoices):
    INVOICE_COPY = "invoice_copy", _("Copy of the invoice")
    TAX_CERTIFICATE = "tax_certificate", _("Updated tax certificate")
    AP_CONTACT = "ap_contact", _("Accounts-payable contact")
    WITHHOLDING_RECEIPT = "withholding_receipt", _("Withholding receipt")
    PAYMENT_DETAILS = "payment_details", _("Bank details for payment")
    OTHER = "other", _("Other")


class BarrierStatus(models.TextChoices):
    OPEN = "open", _("Open")
    REMOVED = "removed", _("Removed")


AGING_BUCKETS: list[tuple[str, int | None, int | None]] = [
    # (code, min days past due inclusive, max inclusive); None = unbounded
    ("current", None, 0),
    ("1-30", 1, 30),
    ("31-60", 31, 60),
    ("61-90", 61, 90),
    ("91-180", 91, 180),
    ("180+", 181, None),
]


AGING_LABELS = {
    "current": _("Current"), "1-30": _("1–30 days"), "31-60": _("31–60 days"), "61-90": _("61–90 days"),
    "91-180": _("91–180 days"), "180+": _("Over 180 days"),
}


def aging_bucket(days_past_due: int) -> str:
    for code, low, high in AGING_BUCKETS:
        if (low is None or days_past_due >= low) and (high is None or days_past_due <= high):
            return code
    return "180+"


# The channels an agent, a cadence or an API client uses (named for the API schema's enum).
OUTREACH_CHANNELS = Channel.outreach_choices()
