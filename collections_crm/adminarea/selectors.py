"""Reads for the admin area. Only admins reach these views, so no per-object visibility here."""

from __future__ import annotations

import datetime as dt
import difflib

from django.conf import settings
from django.db.models import Count, QuerySet
from django.http import Http404
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from cases.choices import CaseStatus, PromiseStatus
from cases.models import Case
from collections_crm.audit.models import AuditLog
from collections_crm.core.templatetags.crm import money
from contacts.models import MessageTemplate, MessageTemplateVersion

# What {{ opt_out_text }} becomes when a template is previewed.
OPT_OUT_TEXT = _("To stop receiving these messages, reply STOP or write to us.")


def template_list(*, objective: str = "", channel: str = "", language: str = "") -> QuerySet[MessageTemplate]:
    qs = MessageTemplate.objects.select_related("current_version", "current_version__created_by").annotate(
        version_count=Count("versions")
    )
    if objective:
        qs = qs.filter(objective=objective)
    if channel:
        qs = qs.filter(channel=channel)
    if language:
        qs = qs.filter(language=language)
    return qs.order_by("objective", "channel", "language", "name")


def template_get(*, template_id: int) -> MessageTemplate:
    template = MessageTemplate.objects.select_related("current_version").filter(pk=template_id).first()
    if template is None:
        raise Http404
    return template


def template_versions(*, template: MessageTemplate) -> QuerySet[MessageTemplateVersion]:
    return template.versions.select_related("created_by").order_by("-number")


def template_version_get(*, template: MessageTemplate, number: int) -> MessageTemplateVersion:
    version = template.versions.filter(number=number).first()
    if version is None:
        raise Http404
    return version


def version_diff(old: MessageTemplateVersion, new: MessageTemplateVersion) -> list[tuple[str, str]]:
    """Unified diff of subject and body as (kind, line) pairs; kind is add, del, hunk or same."""
    a = [f"Subject: {old.subject}", *old.body.splitlines()]
    b = [f"Subject: {new.subject}", *new.body.splitlines()]
    lines = []
    for line in list(difflib.unified_diff(a, b, f"v{old.number}", f"v{new.number}", lineterm="", n=2))[2:]:
        kind = {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "same")
        lines.append((kind, line))
    return lines


def template_audit(*, template: MessageTemplate, limit: int = 50) -> QuerySet[AuditLog]:
    return AuditLog.objects.filter(object_type="contacts.messagetemplate", object_id=str(template.pk)).select_related(
        "actor"
    ).order_by("-at")[:limit]


def preview_cases(*, limit: int = 50) -> QuerySet[Case]:
    """Recent open cases to preview a template on."""
    return Case.objects.filter(status__in=CaseStatus.open_values()).select_related("debtor").order_by("-id")[:limit]


def preview_case_get(*, case_id: int | None) -> Case | None:
    if not case_id:
        return None
    return Case.objects.select_related("debtor", "creditor", "assigned_agent").filter(pk=case_id).first()


def template_values_for_case(case: Case, *, today: dt.date) -> dict[str, str]:
    """The placeholder values of a case, as plain strings (the renderer never sees objects)."""
    promise = case.promises.filter(status=PromiseStatus.PENDING).order_by("due_date").first()
    agent = case.assigned_agent
    return {
        "debtor_name": case.debtor.name,
        "amount_due": money(case.balance, case.currency),
        "original_amount": money(case.original_amount, case.currency),
        "due_date": date_format(case.due_date, "SHORT_DATE_FORMAT"),
        "days_past_due": str(case.days_past_due(today)),
        "creditor_name": case.creditor.name,
        "case_reference": case.reference,
        "agent_name": agent.display_name() if agent else getattr(settings, "CRM_COMPANY_NAME", "CobroCRM"),
        "company_name": getattr(settings, "CRM_COMPANY_NAME", "CobroCRM"),
        "payment_link": getattr(settings, "CRM_PAYMENT_URL", "https://pay.example.com/") + case.reference,
        "promise_amount": money(promise.amount, case.currency) if promise else "",
        "promise_date": date_format(promise.due_date, "SHORT_DATE_FORMAT") if promise else "",
        "opt_out_text": str(OPT_OUT_TEXT),
    }
