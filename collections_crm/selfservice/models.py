"""Self-service: the debtor's personal links, the portal's policy, online payments (checkouts and
the provider callbacks that confirm them) and the files a debtor uploads."""

from __future__ import annotations

import os
import uuid
from decimal import Decimal

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from collections_crm.core.constraints import ConstraintFieldsMixin


class PortalSettings(ConstraintFieldsMixin, models.Model):
    """The portal's policy, edited by admins: a single row (pk=1), created by the data migration."""

    link_valid_days = models.PositiveSmallIntegerField(
        _("days a personal link stays valid"), default=30, validators=[MinValueValidator(1), MaxValueValidator(365)])
    max_identity_attempts = models.PositiveSmallIntegerField(
        _("wrong identity answers before a link locks"), default=5, validators=[MinValueValidator(1), MaxValueValidator(20)])
    lockout_minutes = models.PositiveSmallIntegerField(
        _("minutes a locked link stays locked"), default=30, validators=[MinValueValidator(1), MaxValueValidator(24 * 60)])
    session_minutes = models.PositiveSmallIntegerField(
        _("minutes a verified visit lasts without activity"), default=20, validators=[MinValueValidator(5), MaxValueValidator(120)])
    min_payment = models.DecimalField(
        _("smallest online payment"), max_digits=14, decimal_places=2, default=Decimal("1.00"),
        validators=[MinValueValidator(Decimal("0.01"))])
    allow_partial_payments = models.BooleanField(_("allow paying part of the balance"), default=True)
    promise_max_days = models.PositiveSmallIntegerField(
        _("latest promise date (days ahead)"), default=30, validators=[MinValueValidator(1), MaxValueValidator(365)])
    allow_plans = models.BooleanField(_("allow choosing a payment plan"), default=True)
    allow_disputes = models.BooleanField(_("allow opening a dispute"), default=True)
    upload_max_mb = models.PositiveSmallIntegerField(
        _("largest upload (MB)"), default=5, validators=[MinValueValidator(1), MaxValueValidator(25)])
    welcome_es = models.TextField(_("welcome text (Spanish)"), blank=True, max_length=1000)
    welcome_en = models.TextField(_("welcome text (English)"), blank=True, max_length=1000)
    help_es = models.TextField(_("help and contact text (Spanish)"), blank=True, max_length=1000)
    help_en = models.TextField(_("help and contact text (English)"), blank=True, max_length=1000)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        verbose_name = _("portal settings")
        verbose_name_plural = _("portal settings")

    def __str__(self) -> str:
        return str(_("Portal settings"))

    def text(self, name: str, language: str) -> str:
        """The admin's ``welcome`` or ``help`` text in ``language`` (Spanish when it has none)."""
        return getattr(self, f"{name}_{'en' if language == 'en' else 'es'}") or getattr(self, f"{name}_es")


class LinkSource(models.TextChoices):
    """Where a personal link was handed to the debtor (click-through is counted per source)."""

    EMAIL = "email", _("E-mail")
    SMS = "sms", _("SMS")
    LETTER = "letter", _("Letter")
    WHATSAPP = "whatsapp", _("WhatsApp")
    AGENT = "agent", _("Given by an agent")


class PortalLink(models.Model):
    """A personal link to one case. Only digests of its secrets are stored: the token in the URL
    (a message's link) and the short code (printed on a letter, typed on the portal's first page).
    A link works until it expires, is revoked, its case closes or the debtor asks us to stop."""

    # Indexed by portallink_case_idx (case, -created_at), which it leads.
    case = models.ForeignKey("cases.Case", verbose_name=_("case"), on_delete=models.CASCADE, related_name="portal_links", db_index=False)
    token_digest = models.CharField(max_length=64, unique=True, editable=False)
    code_digest = models.CharField(max_length=64, unique=True, editable=False)
    source = models.CharField(_("given by"), max_length=10, choices=LinkSource.choices)
    created_at = models.DateTimeField(_("created"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                   db_index=False)
    expires_at = models.DateTimeField(_("expires"))
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                   db_index=False)
    first_opened_at = models.DateTimeField(_("first opened"), null=True, blank=True)
    last_opened_at = models.DateTimeField(_("last opened"), null=True, blank=True)
    open_count = models.PositiveIntegerField(_("times opened"), default=0)
    verified_at = models.DateTimeField(_("identity last confirmed"), null=True, blank=True)
    failed_attempts = models.PositiveSmallIntegerField(_("wrong identity answers"), default=0)
    locked_until = models.DateTimeField(_("locked until"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("personal link")
        verbose_name_plural = _("personal links")
        constraints = [
            models.CheckConstraint(condition=Q(source__in=LinkSource.values), name="portallink_source_valid"),
        ]
        indexes = [
            # The case page's links and revoking them: WHERE case_id=? ORDER BY created_at DESC
            models.Index(fields=["case", "-created_at"], name="portallink_case_idx"),
            # Click-through by source and period: WHERE created_at BETWEEN ? AND ? GROUP BY source
            models.Index(fields=["created_at", "source"], name="portallink_created_idx"),
            # Deleting a user looks for the links they made or revoked.
            models.Index(fields=["created_by"], name="portallink_created_by_idx", condition=Q(created_by__isnull=False)),
            models.Index(fields=["revoked_by"], name="portallink_revoked_by_idx", condition=Q(revoked_by__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.get_source_display()} {self.created_at:%Y-%m-%d}"


class CheckoutStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for the provider")
    PAID = "paid", _("Paid")
    CANCELLED = "cancelled", _("Cancelled by the debtor")
    FAILED = "failed", _("Declined by the provider")
    REFUSED = "refused", _("Paid, but could not be posted")


class Checkout(models.Model):
    """One online payment the debtor started. It is posted to the case (cases.services.payment_post)
    only when the provider's signed callback confirms it; ``order`` is our reference at the provider
    (12 characters, the first four digits: what Redsys accepts, and Stripe takes anything)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    order = models.CharField(_("order"), max_length=12, unique=True)
    # Indexed by checkout_case_idx (case, -created_at), which it leads.
    case = models.ForeignKey("cases.Case", verbose_name=_("case"), on_delete=models.CASCADE, related_name="checkouts", db_index=False)
    link = models.ForeignKey(PortalLink, verbose_name=_("personal link"), on_delete=models.SET_NULL, null=True, blank=True,
                             related_name="checkouts")
    provider = models.CharField(_("provider"), max_length=16)
    # How the debtor chose to pay at the provider: "card", or "bizum" (Redsys).
    method = models.CharField(_("method"), max_length=16, default="card", db_default="card")
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))])
    currency = models.CharField(_("currency"), max_length=3)
    status = models.CharField(_("status"), max_length=10, choices=CheckoutStatus.choices, default=CheckoutStatus.PENDING)
    provider_ref = models.CharField(_("provider reference"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created"))
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)
    payment = models.OneToOneField("cases.Payment", verbose_name=_("payment"), on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="checkout")
    failure_reason = models.CharField(_("why it failed"), max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("online payment")
        verbose_name_plural = _("online payments")
        constraints = [
            models.CheckConstraint(condition=Q(status__in=CheckoutStatus.values), name="checkout_status_valid"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="checkout_amount_positive"),
        ]
        indexes = [
            # The portal's payment history and the case page: WHERE case_id=? ORDER BY created_at DESC
            models.Index(fields=["case", "-created_at"], name="checkout_case_idx"),
            # Stripe's callback names its session: WHERE provider=? AND provider_ref=?
            models.Index(fields=["provider", "provider_ref"], name="checkout_provider_ref_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.order} {self.amount} {self.currency}"


class CallbackOutcome(models.TextChoices):
    POSTED = "posted", _("Payment posted")
    DUPLICATE = "duplicate", _("Already handled")
    DECLINED = "declined", _("Payment declined")
    REFUSED = "refused", _("Could not be posted")
    IGNORED = "ignored", _("Not about a payment of ours")
    FORGED = "forged", _("Signature refused")


class ProviderEvent(models.Model):
    """Every callback a payment provider (or anyone pretending to be one) sent us. The unique
    (provider, event_id) makes a repeated or replayed callback a no-op; a forged one is kept with
    an empty event id and no payload, to be looked at."""

    provider = models.CharField(_("provider"), max_length=16)
    event_id = models.CharField(_("event"), max_length=255, null=True, blank=True)
    received_at = models.DateTimeField(_("received"))
    signature_valid = models.BooleanField(_("signature valid"))
    outcome = models.CharField(_("outcome"), max_length=10, choices=CallbackOutcome.choices)
    checkout = models.ForeignKey(Checkout, verbose_name=_("online payment"), on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="events")
    # The event's type and status as the provider named them; never card or personal data.
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    remote_addr = models.GenericIPAddressField(_("from"), null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("payment provider callback")
        verbose_name_plural = _("payment provider callbacks")
        constraints = [
            models.UniqueConstraint(fields=["provider", "event_id"], condition=Q(event_id__isnull=False), name="providerevent_unique"),
            models.CheckConstraint(condition=Q(outcome__in=CallbackOutcome.values), name="providerevent_outcome_valid"),
        ]
        indexes = [
            # Monitoring forged callbacks: WHERE signature_valid = false ORDER BY received_at DESC
            models.Index(fields=["-received_at"], name="providerevent_forged_idx", condition=Q(signature_valid=False)),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.event_id or '-'} {self.outcome}"


class PrivateStorage(FileSystemStorage):
    """Files debtors upload, outside the web root (settings.CRM_PRIVATE_MEDIA_ROOT, never served
    by the web server or whitenoise): staff download them through a view that checks access. The
    folder is read from the setting on every use (tests and deployments move it)."""

    def __init__(self) -> None:
        super().__init__(base_url=None)

    @property
    def base_location(self) -> str:
        return str(settings.CRM_PRIVATE_MEDIA_ROOT)

    @property
    def location(self) -> str:
        return os.path.abspath(self.base_location)


def private_storage() -> FileSystemStorage:
    """The storage as a callable: migrations name this function, not a machine's folder."""
    return PrivateStorage()


class UploadPurpose(models.TextChoices):
    DISPUTE = "dispute", _("Dispute")
    DOCUMENT = "document", _("Document sent by the debtor")


class PortalUpload(models.Model):
    """A file the debtor sent from the portal (checked for size and type before it is stored)."""

    case = models.ForeignKey("cases.Case", verbose_name=_("case"), on_delete=models.CASCADE, related_name="portal_uploads")
    purpose = models.CharField(_("purpose"), max_length=10, choices=UploadPurpose.choices)
    file = models.FileField(_("file"), storage=private_storage, upload_to="portal/%Y/%m/", max_length=200)
    original_name = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(_("type"), max_length=100)
    size = models.PositiveIntegerField(_("size (bytes)"))
    uploaded_at = models.DateTimeField(_("uploaded"))

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        verbose_name = _("file sent by the debtor")
        verbose_name_plural = _("files sent by debtors")
        constraints = [
            models.CheckConstraint(condition=Q(purpose__in=UploadPurpose.values), name="portalupload_purpose_valid"),
        ]

    def __str__(self) -> str:
        return self.original_name


class PortalActivity(models.Model):
    """When the debtor last did something on the portal for a case (opened a link for the first
    time, confirmed or failed their identity, paid, promised, chose a plan, disputed, asked for a
    document, sent a file, changed their preferences). Kept by ``activity.case_portal_touch``,
    which the portal's services call; read by the queue's "portal activity since my last look"."""

    case = models.OneToOneField("cases.Case", verbose_name=_("case"), on_delete=models.CASCADE, primary_key=True,
                                related_name="portal_activity")
    last_at = models.DateTimeField(_("last portal activity"))

    class Meta:
        verbose_name = _("portal activity")
        verbose_name_plural = _("portal activity")

    def __str__(self) -> str:
        return f"{self.case_id} {self.last_at:%Y-%m-%d %H:%M}"


class CaseLook(models.Model):
    """When a staff user last opened a case's page (written by the desk on each visit, one upsert):
    what "portal activity since my last look" compares with. One row per user and case."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False)
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="+", db_index=False)
    looked_at = models.DateTimeField()

    class Meta:
        constraints = [
            # The queue's filter: NOT EXISTS (… WHERE user_id=? AND case_id=cases.id AND looked_at >= …),
            # and the upsert of a visit (ON CONFLICT (user_id, case_id)).
            models.UniqueConstraint(fields=["user", "case"], name="caselook_user_case_unique"),
        ]
        indexes = [
            # Deleting a case (cascade) looks its rows up by case.
            models.Index(fields=["case"], name="caselook_case_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.case_id} {self.looked_at:%Y-%m-%d %H:%M}"
