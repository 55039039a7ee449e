from __future__ import annotations

import zoneinfo

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .validators import normalise_document, validate_document
from .zones import zones_from_text

# Every zone libphonenumber knows, comma-separated, is about 4,500 characters: no debtor's
# candidates can be longer.
CANDIDATE_ZONES_MAX_LENGTH = 5000


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("Unknown time zone: %(tz)s"), params={"tz": value}, code="invalid_timezone")


class ContactTime(models.TextChoices):
    """When the debtor prefers to be called (asked in the portal or told to an agent): the contact
    policy places calls inside the window, in the debtor's zone, on top of the legal hours."""

    ANY = "", _("Any time")
    MORNING = "morning", _("Mornings (9:00–14:00)")
    AFTERNOON = "afternoon", _("Afternoons (14:00–18:00)")
    EVENING = "evening", _("Evenings (18:00–21:00)")


# The windows, local time [start, end).
CONTACT_TIME_WINDOWS = {"morning": (9, 14), "afternoon": (14, 18), "evening": (18, 21)}


class DebtorKind(models.TextChoices):
    PERSON = "person", _("Person")
    COMPANY = "company", _("Company")


class DocumentType(models.TextChoices):
    DNI = "dni", "DNI"
    NIE = "nie", "NIE"
    CIF = "cif", "CIF/NIF"
    PASSPORT = "passport", _("Passport")
    SSN = "ssn", "SSN/EIN"
    RFC = "rfc", "RFC"
    RIF = "rif", "RIF"
    OTHER = "other", _("Other")


# The flags that stop every collection contact with a debtor (the contact policy's blocking
# reasons): their open cases rightly have no next step while one is set.
DEBTOR_FLAGS = ("do_not_contact", "cease_communication", "attorney_represented", "deceased", "bankruptcy")


def contact_paused_q(prefix: str = "") -> Q:
    """Debtors with a flag that pauses collection contact; ``prefix="debtor__"`` for cases."""
    return Q(**{f"{prefix}{flag}": True for flag in DEBTOR_FLAGS}, _connector=Q.OR)


class Debtor(models.Model):
    kind = models.CharField(_("kind"), max_length=10, choices=DebtorKind.choices, default=DebtorKind.PERSON)
    name = models.CharField(_("name"), max_length=200)
    document_type = models.CharField(_("document type"), max_length=10, choices=DocumentType.choices)
    document_number = models.CharField(_("document number"), max_length=32)
    country = models.CharField(_("country"), max_length=2, default="ES", help_text=_("ISO 3166 code, e.g. ES, US, MX"))
    timezone = models.CharField(_("time zone"), max_length=64, default="Europe/Madrid", validators=[validate_timezone])
    # Where the debtor may be (debtors/zones.py): until a person confirms the zone, the contact
    # hours must hold in every candidate. Derived from the zone and the phones, and kept by
    # debtors.services.debtor_zones_refresh (sorted names, comma-separated; "" until worked out,
    # which the policy reads as the zone alone). Database defaults: the portfolio import and the
    # demo data insert debtors with SQL that names its columns.
    timezone_confirmed = models.BooleanField(_("time zone confirmed"), default=False, db_default=False)
    candidate_timezones = models.CharField(_("candidate time zones"), max_length=CANDIDATE_ZONES_MAX_LENGTH, blank=True,
                                           default="", db_default="", editable=False)
    language = models.CharField(_("language"), max_length=8, choices=[("es", "Español"), ("en", "English")], default="es")
    notes = models.TextField(_("notes"), blank=True, max_length=4000)
    # What the debtor answers, with the last characters of their document, to prove who they are
    # in the self-service portal (collections_crm.selfservice.identity). Database defaults: the
    # import and the demo data insert debtors with SQL that names its columns.
    postal_code = models.CharField(_("postal code"), max_length=12, blank=True, default="", db_default="")
    birth_date = models.DateField(_("date of birth"), null=True, blank=True)
    preferred_contact_time = models.CharField(_("preferred time for calls"), max_length=10, choices=ContactTime.choices,
                                              blank=True, default="", db_default="")

    # Flags that stop collection contact (the contact policy reads them).
    do_not_contact = models.BooleanField(_("do not contact"), default=False)
    cease_communication = models.BooleanField(_("cease communication requested"), default=False)
    attorney_represented = models.BooleanField(_("represented by an attorney"), default=False)
    deceased = models.BooleanField(_("deceased"), default=False)
    bankruptcy = models.BooleanField(_("in bankruptcy"), default=False)

    # Data protection. A legal hold keeps every record past its retention period (litigation, a
    # regulator's request); ``anonymised_at`` marks the erasure of the personal data, which is
    # final (debtors/retention.py says when it is due, collections_crm.privacy.services.debtor_anonymise does it).
    # Database defaults too: the portfolio import and the demo data insert debtors with SQL that
    # names its columns.
    legal_hold = models.BooleanField(_("legal hold"), default=False, db_default=False)
    legal_hold_reason = models.CharField(
        _("reason for the legal hold"), max_length=300, blank=True, default="", db_default="",
        help_text=_("A reference such as a court file number, not personal details: it is kept in the audit log."),
    )
    anonymised_at = models.DateTimeField(_("anonymised"), null=True, blank=True)

    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("debtor")
        verbose_name_plural = _("debtors")
        constraints = [
            models.UniqueConstraint(fields=["document_type", "document_number"], name="debtor_document_unique"),
            models.CheckConstraint(condition=Q(kind__in=DebtorKind.values), name="debtor_kind_valid"),
            models.CheckConstraint(condition=~Q(name=""), name="debtor_name_not_empty"),
            models.CheckConstraint(condition=~Q(document_number=""), name="debtor_document_not_empty"),
            models.CheckConstraint(condition=Q(legal_hold=False) | ~Q(legal_hold_reason=""), name="debtor_legal_hold_has_reason"),
        ]
        indexes = [
            # Search by name prefix in the queue and the API.
            models.Index(fields=["name"], name="debtor_name_idx"),
            # Search by identity document alone: WHERE document_number = ? (the unique index
            # leads with the document type).
            models.Index(fields=["document_number"], name="debtor_document_number_idx"),
        ]
        # On PostgreSQL, migration 0002 adds debtor_name_trgm_idx: a trigram GIN index on
        # UPPER(name) that serves the substring search WHERE UPPER(name) LIKE UPPER('%…%').
        # Migration 0006 adds debtor_document_prefix_idx (varchar_pattern_ops) for the search by a
        # document's prefix, WHERE document_number LIKE '1234%'.

    def __str__(self) -> str:
        return self.name

    @property
    def candidate_zones(self) -> tuple[str, ...]:
        """The zones the contact-hour rules must hold in (the recorded zone alone until the
        candidates are worked out)."""
        return zones_from_text(self.candidate_timezones) or (self.timezone,)

    def clean(self) -> None:
        super().clean()
        if self.document_number:
            self.document_number = normalise_document(self.document_number)
            validate_document(self.document_type, self.document_number)


class ContactPointKind(models.TextChoices):
    PHONE = "phone", _("Phone")
    EMAIL = "email", _("E-mail")
    ADDRESS = "address", _("Postal address")


class ContactPoint(models.Model):
    # Indexed by the unique (debtor, kind, value) constraint, which it leads.
    debtor = models.ForeignKey(Debtor, verbose_name=_("debtor"), on_delete=models.CASCADE, related_name="contact_points", db_index=False)
    kind = models.CharField(_("kind"), max_length=10, choices=ContactPointKind.choices)
    # E.164 for phones, lower-cased address for e-mails, the full text for postal addresses.
    value = models.CharField(_("value"), max_length=300)
    label = models.CharField(_("label"), max_length=60, blank=True, help_text=_("e.g. mobile, work, accounts payable"))
    person_name = models.CharField(_("contact person"), max_length=120, blank=True)
    is_primary = models.BooleanField(_("primary"), default=False)
    verified = models.BooleanField(_("verified"), default=False)
    consent = models.BooleanField(_("consent to automated messages"), default=False)
    opted_out = models.BooleanField(_("opted out"), default=False)
    do_not_contact = models.BooleanField(_("do not contact"), default=False)
    # Why this point cannot be used at all, in words ("" = usable): a value an import could not
    # read as a phone or e-mail is kept as written, for the agent to see and correct, but never dialled.
    unusable_reason = models.CharField(_("why it cannot be used"), max_length=300, blank=True, default="", db_default="")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["-is_primary", "kind", "id"]
        verbose_name = _("contact point")
        verbose_name_plural = _("contact points")
        constraints = [
            models.UniqueConstraint(fields=["debtor", "kind", "value"], name="contactpoint_unique_per_debtor"),
            models.CheckConstraint(condition=Q(kind__in=ContactPointKind.values), name="contactpoint_kind_valid"),
            models.CheckConstraint(condition=~Q(value=""), name="contactpoint_value_not_empty"),
        ]
        indexes = [
            # Search by phone or e-mail: WHERE value = ?
            models.Index(fields=["value"], name="contactpoint_value_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.label}".strip()

    def clean(self) -> None:
        super().clean()
        from .validators import normalise_contact_value

        if self.value:
            self.value = normalise_contact_value(self.kind, self.value, country=self.debtor.country if self.debtor_id else "ES")
