"""Every change an admin makes in the admin area: validated, saved in one transaction with an
audit row per changed object, effective at once (the engine reads these rows on each decision)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

import holidays
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.choices import BarrierKind
from cases.models import Creditor, PlanGuardrails
from collections_crm.audit.services import audit_record, audited_delete, audited_save, snapshot
from collections_crm.selfservice.links import portal_settings_changed
from collections_crm.selfservice.models import PortalSettings
from contacts.models import (
    Cadence,
    CadenceStep,
    ExcuseCategory,
    FollowUpSettings,
    JurisdictionPack,
    MessageTemplate,
    Playbook,
    StrategyRule,
    Technique,
)

from .checks import (
    SENDABLE_CHANNELS,
    PolicyInvalid,
    Problem,
    check_cadence,
    check_excuse_category,
    check_packs,
    check_rules,
)
from .tasks import replan_portfolio_on_commit

RULE_FIELDS = ["position", "name", "condition", "threshold", "window_days", "amount", "creditor_id", "debtor_kind", "objective",
               "active", "description"]
STEP_FIELDS = ["delay_days", "send_time", "channel", "kind", "template_id", "instructions", "is_consequence"]
PACK_FIELDS = [
    "code", "name", "countries", "is_default", "start_time", "end_time", "weekdays", "skip_holidays", "holiday_country",
    "holiday_subdivision", "hours_channels", "max_calls_per_case_7d", "pause_days_after_conversation",
    "max_contacts_per_day", "consent_channels", "active", "notes",
]
CATALOGUE_FIELDS = ["code", "name_es", "name_en", "description_es", "description_en", "active", "position"]
EXCUSE_FIELDS = CATALOGUE_FIELDS + ["suggested_objective", "is_barrier", "barrier_kind"]
PLAYBOOK_FIELDS = ["objective", "excuse_category_id", "language", "title", "talking_points", "active"]
FOLLOWUP_SETTINGS_FIELDS = ["promise_grace_days", "reminder_days_before", "reminder_channel", "reminder_template_id",
                            "missed_instalments_to_default", "paused_commitments"]
CREDITOR_FIELDS = ["code", "name", "kind", "currency", "active", "retention_days"]
GUARDRAIL_FIELDS = ["min_instalment", "max_instalments", "max_term_months", "max_discount_percent"]
PORTAL_SETTINGS_FIELDS = [
    "link_valid_days", "max_identity_attempts", "lockout_minutes", "session_minutes", "min_payment", "allow_partial_payments",
    "promise_max_days", "allow_plans", "allow_disputes", "upload_max_mb", "welcome_es", "welcome_en", "help_es", "help_en",
]


def _save_audited(*, actor, obj: models.Model, fields: list[str], data: dict[str, Any], action: str, now: dt.datetime,
                  touch: tuple[str, ...] = (), save_unchanged: bool = False) -> bool:
    """audited_save (full validation) with the admin area's action codes, ``<action>.created`` or
    ``<action>.updated``. Returns whether anything changed."""
    verb = "created" if obj.pk is None else "updated"
    _before, after = audited_save(obj=obj, changes=data, fields=fields, actor=actor, action=f"{action}.{verb}", at=now,
                                  touch=touch, save_unchanged=save_unchanged)
    return verb == "created" or bool(after)


# --- Catalogues, playbooks, guardrails ---------------------------------------------------------

def technique_save(*, actor, technique_id: int | None, data: dict[str, Any], now: dt.datetime | None = None) -> Technique:
    now = now or timezone.now()
    with transaction.atomic():
        obj = Technique.objects.select_for_update().get(pk=technique_id) if technique_id else Technique()
        _save_audited(actor=actor, obj=obj, fields=CATALOGUE_FIELDS, data=data, action="technique", now=now)
    return obj


def excuse_category_save(*, actor, excuse_id: int | None, data: dict[str, Any], now: dt.datetime | None = None) -> ExcuseCategory:
    """Create or change an excuse category; a payment barrier must name the barrier it opens
    (check_excuse_category), else PolicyInvalid and nothing is written."""
    now = now or timezone.now()
    with transaction.atomic():
        obj = ExcuseCategory.objects.select_for_update().get(pk=excuse_id) if excuse_id else ExcuseCategory()
        problems = check_excuse_category({f: data.get(f, getattr(obj, f)) for f in ("is_barrier", "barrier_kind")})
        if problems:
            raise PolicyInvalid(problems)
        _save_audited(actor=actor, obj=obj, fields=EXCUSE_FIELDS, data=data, action="excuse_category", now=now)
    return obj


def playbook_save(*, actor, playbook_id: int | None, data: dict[str, Any], now: dt.datetime | None = None) -> Playbook:
    now = now or timezone.now()
    with transaction.atomic():
        obj = Playbook.objects.select_for_update().get(pk=playbook_id) if playbook_id else Playbook()
        _save_audited(actor=actor, obj=obj, fields=PLAYBOOK_FIELDS, data=data, action="playbook", now=now)
    return obj


def guardrails_update(*, actor, data: dict[str, Any], now: dt.datetime | None = None) -> PlanGuardrails:
    now = now or timezone.now()
    with transaction.atomic():
        PlanGuardrails.objects.get_or_create(pk=1)
        obj = PlanGuardrails.objects.select_for_update().get(pk=1)
        obj.updated_by = actor if getattr(actor, "pk", None) else None
        _save_audited(actor=actor, obj=obj, fields=GUARDRAIL_FIELDS, data=data, action="guardrails", now=now,
                      touch=("updated_by",))
    return obj


def portal_settings_update(*, actor, data: dict[str, Any], now: dt.datetime | None = None) -> PortalSettings:
    """The self-service portal's policy: how long a link lasts, the identity check's attempts and
    lockout, a visit's length, what a debtor may do there and the texts the portal shows. Effective
    at the debtor's next page (the portal's cached copy is dropped on commit); links already
    issued keep the expiry they were given."""
    now = now or timezone.now()
    with transaction.atomic():
        PortalSettings.objects.get_or_create(pk=1)
        obj = PortalSettings.objects.select_for_update().get(pk=1)
        obj.updated_by = actor if getattr(actor, "pk", None) else None
        _save_audited(actor=actor, obj=obj, fields=PORTAL_SETTINGS_FIELDS, data=data, action="portal_settings", now=now,
                      touch=("updated_by",))
        transaction.on_commit(portal_settings_changed)
    return obj


def followup_settings_update(*, actor, data: dict[str, Any], now: dt.datetime | None = None) -> FollowUpSettings:
    """The engine's promise monitoring: grace days, the reminder before a promise, when a plan
    defaults, what happens to commitments while a case is paused."""
    now = now or timezone.now()
    with transaction.atomic():
        FollowUpSettings.objects.get_or_create(pk=1)
        obj = FollowUpSettings.objects.select_for_update().get(pk=1)
        template = MessageTemplate.objects.filter(pk=data.get("reminder_template_id")).first()
        if template is not None and template.channel != data.get("reminder_channel"):
            raise PolicyInvalid([Problem(0, "reminder_template", _("The template is for another channel."))])
        if data.get("reminder_channel") not in SENDABLE_CHANNELS:
            raise PolicyInvalid([Problem(0, "reminder_channel", _("Reminders are sent automatically: choose e-mail, SMS, letter or WhatsApp."))])
        _save_audited(actor=actor, obj=obj, fields=FOLLOWUP_SETTINGS_FIELDS, data=data, action="followup_settings", now=now)
        replan_portfolio_on_commit()
    return obj


def template_create(*, actor, name: str, objective: str, channel: str, language: str, subject: str, body: str,
                    now: dt.datetime | None = None) -> MessageTemplate:
    """A new message template with its first version. Invalid text or a name already used for
    the same objective, channel and language is refused field by field; nothing is written then."""
    from contacts.services import template_save_version

    now = now or timezone.now()
    with transaction.atomic():
        obj = MessageTemplate(name=name.strip(), objective=objective, channel=channel, language=language, active=True)
        try:
            obj.full_clean(validate_unique=True, validate_constraints=True)
        except ValidationError as exc:
            if "__all__" in exc.message_dict:
                raise ValidationError({"name": _("A template with this name already exists for this objective, channel and language.")}) from exc
            raise
        obj.save()
        audit_record(actor=actor, action="template.created", obj=obj, before=None,
                     after={"name": obj.name, "objective": objective, "channel": channel, "language": language}, at=now)
        template_save_version(actor=actor, template_id=obj.pk, subject=subject, body=body, now=now)
    obj.refresh_from_db()
    return obj


def template_set_active(*, actor, template_id: int, active: bool, now: dt.datetime | None = None) -> MessageTemplate:
    now = now or timezone.now()
    with transaction.atomic():
        obj = MessageTemplate.objects.select_for_update().get(pk=template_id)
        _save_audited(actor=actor, obj=obj, fields=["active"], data={"active": active}, action="template", now=now)
    return obj


# --- Strategy rules ----------------------------------------------------------------------------

def _objectives_with_steps() -> set[str]:
    return set(CadenceStep.objects.values_list("cadence__objective", flat=True).distinct())


CENT = Decimal("0.01")


def _amount_in_cents(rule: dict[str, Any]) -> dict[str, Any]:
    """The rule with its amount written with two decimals (3000 → 3000.00), as the database
    gives it back, so that an unchanged amount is not audited as a change. An amount with more
    decimals is left as it is, for the model's validation to refuse."""
    amount = rule["amount"]
    if amount is None or amount != amount.quantize(CENT):
        return rule
    return {**rule, "amount": amount.quantize(CENT)}


def strategy_rules_save(*, actor, rules: list[dict[str, Any]], now: dt.datetime | None = None) -> None:
    """Replace the ordered strategy with ``rules`` (dicts of RULE_FIELDS plus ``id`` for existing
    rows; ``creditor_id`` None and ``debtor_kind`` "" for every case). Rules missing from the
    list are deleted. Checked as a whole (check_rules); all or nothing."""
    now = now or timezone.now()
    rules = [_amount_in_cents(rule) for rule in rules]
    with transaction.atomic():
        existing = {r.pk: r for r in StrategyRule.objects.select_for_update()}
        problems = check_rules(rules, objectives_with_steps=_objectives_with_steps())
        for i, rule in enumerate(rules):
            if rule.get("id") and rule["id"] not in existing:
                problems.append(Problem(i, None, _("This rule was deleted meanwhile; reload the page.")))
        if problems:
            raise PolicyInvalid(problems)
        keep = {rule["id"] for rule in rules if rule.get("id")}
        for pk, obj in existing.items():
            if pk not in keep:
                audited_delete(obj=obj, fields=RULE_FIELDS, actor=actor, action="strategy_rule.deleted", at=now)
        for i, rule in enumerate(rules):
            obj = existing.get(rule.get("id")) or StrategyRule()
            try:
                _save_audited(actor=actor, obj=obj, fields=RULE_FIELDS, data=rule, action="strategy_rule", now=now)
            except ValidationError as exc:
                raise PolicyInvalid([Problem(i, f if f != "__all__" else None, m) for f, ms in exc.message_dict.items() for m in ms])
        replan_portfolio_on_commit()


# --- Cadences ----------------------------------------------------------------------------------

def _template_facts() -> tuple[dict[int, tuple[str, str]], set[tuple[str, str]]]:
    rows = list(MessageTemplate.objects.values_list("pk", "objective", "channel", "active"))
    return {pk: (o, c) for pk, o, c, _a in rows}, {(o, c) for _pk, o, c, a in rows if a}


def cadence_save(*, actor, cadence_id: int, name: str, repeat_every_days: int, description: str,
                 steps: list[dict[str, Any]], now: dt.datetime | None = None) -> Cadence:
    """Replace a cadence's steps with ``steps`` (in order; ``id`` for existing steps, which keep
    their identity so scheduled follow-ups still point at them)."""
    now = now or timezone.now()
    with transaction.atomic():
        cadence = Cadence.objects.select_for_update().get(pk=cadence_id)
        templates, with_template = _template_facts()
        problems = check_cadence(objective=cadence.objective, repeat_every_days=repeat_every_days, steps=steps,
                                 templates=templates, objectives_channels_with_template=with_template)
        if problems:
            raise PolicyInvalid(problems)
        _save_audited(actor=actor, obj=cadence, fields=["name", "repeat_every_days", "description"],
                      data={"name": name, "repeat_every_days": repeat_every_days, "description": description},
                      action="cadence", now=now)
        existing = {s.pk: s for s in cadence.steps.select_for_update()}
        keep = {s.get("id") for s in steps if s.get("id")}
        for pk, obj in existing.items():
            if pk not in keep:
                audited_delete(obj=obj, fields=["position"] + STEP_FIELDS, actor=actor, action="cadence_step.deleted", at=now)
        # Positions are unique per cadence: park the survivors out of the way before renumbering.
        CadenceStep.objects.filter(pk__in=keep).update(position=models.F("position") + 1000)
        for position, step in enumerate(steps):
            obj = existing.get(step.get("id")) or CadenceStep(cadence=cadence)
            _save_audited(actor=actor, obj=obj, fields=["position"] + STEP_FIELDS, data={**step, "position": position},
                          action="cadence_step", now=now, save_unchanged=True)
        replan_portfolio_on_commit()
    return cadence


# --- Jurisdiction packs (contact policies) -----------------------------------------------------

def _holiday_countries() -> set[str]:
    return set(holidays.list_supported_countries())


def _pack_rows(overrides: dict[int | None, dict[str, Any]]) -> tuple[list[dict[str, Any]], list[int | None]]:
    rows, keys = [], []
    for pack in JurisdictionPack.objects.order_by("code"):
        rows.append({**{f: getattr(pack, f) for f in PACK_FIELDS}, **overrides.get(pack.pk, {})})
        keys.append(pack.pk)
    if None in overrides:
        rows.append(overrides[None])
        keys.append(None)
    return rows, keys


def jurisdiction_pack_save(*, actor, pack_id: int | None, data: dict[str, Any], now: dt.datetime | None = None) -> JurisdictionPack:
    """Create or change one pack; the whole set is checked (no country in two packs, one default)."""
    now = now or timezone.now()
    data = {**data, "countries": ",".join(c.strip().upper() for c in data["countries"].split(",") if c.strip()),
            "holiday_country": (data.get("holiday_country") or "").upper()}
    with transaction.atomic():
        list(JurisdictionPack.objects.select_for_update())
        rows, keys = _pack_rows({pack_id: data})
        edited = keys.index(pack_id)
        problems = [p for p in check_packs(rows, supported_holiday_countries=_holiday_countries())
                    if p.index in (edited, None)]
        if problems:
            raise PolicyInvalid([Problem(None if p.index is None else 0, p.field, p.message) for p in problems])
        obj = JurisdictionPack.objects.get(pk=pack_id) if pack_id else JurisdictionPack()
        try:
            _save_audited(actor=actor, obj=obj, fields=PACK_FIELDS, data=data, action="jurisdiction_pack", now=now)
        except ValidationError as exc:
            raise PolicyInvalid([Problem(0, f if f != "__all__" else None, m) for f, ms in exc.message_dict.items() for m in ms])
        replan_portfolio_on_commit()
    return obj


# --- Export and import -------------------------------------------------------------------------

EXPORT_FORMAT = "cobrocrm-policies"
# Version 2 added the rules' window (D), amount and scope (creditor, debtor kind), the excuse
# categories' barrier kind and the paused-commitments setting. A version-1 file still imports:
# its rules apply to every case with no window or amount, a barrier category keeps the kind it
# has here (else "other"), and the paused-commitments setting stays as it is.
EXPORT_VERSION = 2
IMPORTABLE_VERSIONS = {1, 2}
RULE_IMPORT_DEFAULTS = {"window_days": 0, "amount": None, "creditor": None, "debtor_kind": ""}


def _plain(value: Any) -> Any:
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    return str(value) if hasattr(value, "quantize") else value


def _rule_export(rule: StrategyRule) -> dict[str, Any]:
    row = {f: _plain(getattr(rule, f)) for f in RULE_FIELDS if f != "creditor_id"}
    return {**row, "creditor": rule.creditor.code if rule.creditor else None}


def policies_export() -> dict[str, Any]:
    """Everything an admin shapes, as JSON-safe data that another installation can import.
    Templates are referenced by their natural key (objective, channel, language, name), a
    rule's creditor by its code."""

    def template_key(template: MessageTemplate | None):
        if template is None:
            return None
        return {"objective": template.objective, "channel": template.channel, "language": template.language, "name": template.name}

    guardrails = PlanGuardrails.current()
    conf = FollowUpSettings.objects.select_related("reminder_template").filter(pk=1).first() or FollowUpSettings()
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "strategy_rules": [_rule_export(r) for r in StrategyRule.objects.select_related("creditor").order_by("position", "id")],
        "cadences": [
            {
                "objective": c.objective, "name": c.name, "repeat_every_days": c.repeat_every_days, "description": c.description,
                "steps": [
                    {"delay_days": s.delay_days, "send_time": _plain(s.send_time), "channel": s.channel, "kind": s.kind,
                     "template": template_key(s.template), "instructions": s.instructions, "is_consequence": s.is_consequence}
                    for s in c.steps.all()
                ],
            }
            for c in Cadence.objects.prefetch_related("steps__template")
        ],
        "jurisdiction_packs": [{f: _plain(getattr(p, f)) for f in PACK_FIELDS} for p in JurisdictionPack.objects.order_by("code")],
        "guardrails": {f: _plain(getattr(guardrails, f)) for f in GUARDRAIL_FIELDS},
        "followup_settings": {**{f: getattr(conf, f) for f in FOLLOWUP_SETTINGS_FIELDS if f != "reminder_template_id"},
                              "reminder_template": template_key(conf.reminder_template)},
        "techniques": [{f: getattr(t, f) for f in CATALOGUE_FIELDS} for t in Technique.objects.all()],
        "excuse_categories": [{f: getattr(e, f) for f in EXCUSE_FIELDS} for e in ExcuseCategory.objects.all()],
        "playbooks": [
            {"objective": p.objective, "excuse_category": p.excuse_category.code if p.excuse_category else None,
             "language": p.language, "title": p.title, "talking_points": p.talking_points, "active": p.active}
            for p in Playbook.objects.select_related("excuse_category")
        ],
    }


def _time(value: Any, where: str, problems: list[str]) -> dt.time | None:
    try:
        return dt.time.fromisoformat(str(value))
    except ValueError:
        problems.append(_("%(where)s: “%(value)s” is not a time (HH:MM).") % {"where": where, "value": value})
        return None


def _imported_rules(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[Problem]]:
    """The file's strategy rules as check_rules and strategy_rules_save take them: the creditor
    code resolved to this installation's creditor, the amount as a Decimal, the fields a
    version-1 file lacks at RULE_IMPORT_DEFAULTS. An unknown creditor or an amount that is not
    a number is a problem of that rule."""
    creditors = dict(Creditor.objects.values_list("code", "pk"))
    rules, problems = [], []
    for i, row in enumerate(rows):
        row = {**RULE_IMPORT_DEFAULTS, **row}
        code, amount = row["creditor"], row["amount"]
        if code and code not in creditors:
            problems.append(Problem(i, "creditor", _("No creditor with the code “%(code)s” exists here.") % {"code": code}))
        if amount is not None:
            try:
                amount = Decimal(str(amount))
                valid = amount.is_finite()
            except InvalidOperation:
                valid = False
            if not valid:
                problems.append(Problem(i, "amount", _("“%(value)s” is not an amount.") % {"value": row["amount"]}))
                amount = None
        rules.append({**{f: row[f] for f in RULE_FIELDS if f not in ("creditor_id", "amount")},
                      "amount": amount, "creditor_id": creditors.get(code) if code else None})
    return rules, problems


def _imported_excuses(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The file's excuse categories; a version-1 one (no barrier kind yet) gets the kind the
    category has here if it is a barrier, else "other", as the migration that added kinds did."""
    known = dict(ExcuseCategory.objects.values_list("code", "barrier_kind"))
    return [row if "barrier_kind" in row else
            {**row, "barrier_kind": (known.get(row["code"]) or BarrierKind.OTHER) if row["is_barrier"] else ""}
            for row in rows]


def policies_import(*, actor, data: Any, now: dt.datetime | None = None) -> dict[str, int]:
    """Load an export file. Everything is checked before anything is written, then applied in one
    transaction: rows are matched by natural key (rule position, cadence objective, pack and
    catalogue code, playbook objective+excuse+language) and updated, created or (rules, steps)
    removed. Returns how many rows changed. Raises PolicyInvalid with readable problems."""
    now = now or timezone.now()
    problems: list[str] = []
    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
        raise PolicyInvalid([Problem(None, None, _("This is not a policies export file."))])
    if data.get("version") not in IMPORTABLE_VERSIONS:
        raise PolicyInvalid([Problem(None, None, _("Unsupported file version %(v)s.") % {"v": data.get("version")})])
    try:
        changed = _policies_apply(actor=actor, data=data, now=now, problems=problems)
    except (KeyError, TypeError, ValueError, AttributeError, InvalidOperation) as exc:
        raise PolicyInvalid([Problem(None, None, _("The file is incomplete or malformed (%(detail)s).") % {"detail": exc})])
    return changed


def _policies_apply(*, actor, data: dict[str, Any], now: dt.datetime, problems: list[str]) -> int:
    def fail(section: str, found: list[Problem]) -> None:
        for p in found:
            where = section if p.index is None else f"{section} #{p.index + 1}"
            problems.append(f"{where}{' · ' + p.field if p.field else ''}: {p.message}")

    # Resolve template references and check every section before writing anything.
    templates = {(t.objective, t.channel, t.language, t.name): t for t in MessageTemplate.objects.all()}
    template_facts, with_template = _template_facts()
    cadences = []
    for c in data["cadences"]:
        steps = []
        for i, s in enumerate(c["steps"]):
            ref = s.get("template")
            template = templates.get((ref["objective"], ref["channel"], ref["language"], ref["name"])) if ref else None
            if ref and template is None:
                problems.append(_("Cadence %(o)s step %(n)d: template “%(name)s” does not exist here.")
                                % {"o": c["objective"], "n": i + 1, "name": ref["name"]})
            steps.append({"delay_days": int(s["delay_days"]), "send_time": _time(s["send_time"], c["objective"], problems),
                          "channel": s["channel"], "kind": s["kind"], "template_id": template.pk if template else None,
                          "instructions": s.get("instructions", ""), "is_consequence": bool(s.get("is_consequence"))})
        fail(_("Cadence %(o)s") % {"o": c["objective"]},
             check_cadence(objective=c["objective"], repeat_every_days=int(c["repeat_every_days"]), steps=steps,
                           templates=template_facts, objectives_channels_with_template=with_template))
        cadences.append((c, steps))
    with_steps = {c["objective"] for c, steps in cadences if steps}
    rules, found = _imported_rules(data["strategy_rules"])
    # Unknown creditors would read as rules for every case: check the set once they resolve.
    fail(_("Strategy rule"), found or check_rules(rules, objectives_with_steps=with_steps))
    excuses = _imported_excuses(data["excuse_categories"])
    fail(_("Excuse category"), [Problem(i, p.field, p.message) for i, row in enumerate(excuses) for p in check_excuse_category(row)])
    packs = []
    for p in data["jurisdiction_packs"]:
        pack = {f: p.get(f) for f in PACK_FIELDS}
        pack["start_time"] = _time(p["start_time"], p["code"], problems)
        pack["end_time"] = _time(p["end_time"], p["code"], problems)
        for f in ("holiday_country", "holiday_subdivision", "hours_channels", "consent_channels", "notes", "countries"):
            pack[f] = pack[f] or ""
        packs.append(pack)
    if not problems:
        fail(_("Jurisdiction pack"), check_packs(packs, supported_holiday_countries=_holiday_countries()))
    if problems:
        raise PolicyInvalid([Problem(None, None, m) for m in problems])

    changed = 0
    with transaction.atomic():
        try:
            for model, rows, fields, action in ((Technique, data["techniques"], CATALOGUE_FIELDS, "technique"),
                                                (ExcuseCategory, excuses, EXCUSE_FIELDS, "excuse_category")):
                for row in rows:
                    obj = model.objects.filter(code=row["code"]).first() or model()
                    changed += _save_audited(actor=actor, obj=obj, fields=fields, data=row, action=action, now=now)
            excuses = {e.code: e.pk for e in ExcuseCategory.objects.all()}
            for row in data["playbooks"]:
                excuse_id = excuses[row["excuse_category"]] if row["excuse_category"] else None
                obj = Playbook.objects.filter(objective=row["objective"], excuse_category_id=excuse_id, language=row["language"]).first()
                changed += _save_audited(actor=actor, obj=obj or Playbook(), fields=PLAYBOOK_FIELDS,
                                         data={**row, "excuse_category_id": excuse_id}, action="playbook", now=now)
            for c, steps in cadences:
                cadence = Cadence.objects.filter(objective=c["objective"]).first()
                if cadence is None:
                    cadence = Cadence.objects.create(objective=c["objective"], name=c["name"], repeat_every_days=c["repeat_every_days"])
                    audit_record(actor=actor, action="cadence.created", obj=cadence, after=snapshot(cadence), at=now)
                old = list(cadence.steps.values_list("pk", flat=True))
                ids = dict(enumerate(old))
                cadence_save(actor=actor, cadence_id=cadence.pk, name=c["name"], repeat_every_days=int(c["repeat_every_days"]),
                             description=c.get("description", ""),
                             steps=[{**s, "id": ids.get(i)} for i, s in enumerate(steps)], now=now)
                changed += 1
            by_position = {r.position: r for r in StrategyRule.objects.all()}
            strategy_rules_save(actor=actor, now=now, rules=[
                {**r, "id": by_position[r["position"]].pk if r["position"] in by_position else None} for r in rules])
            changed += len(rules)
            for pack in packs:
                obj = JurisdictionPack.objects.filter(code=pack["code"]).first() or JurisdictionPack()
                # The default flag is unique: clear it first if another pack takes it over.
                if pack["is_default"]:
                    JurisdictionPack.objects.exclude(code=pack["code"]).filter(is_default=True).update(is_default=False)
                changed += _save_audited(actor=actor, obj=obj, fields=PACK_FIELDS, data=pack, action="jurisdiction_pack", now=now)
            if "followup_settings" in data:
                conf = dict(data["followup_settings"])
                ref = conf.pop("reminder_template", None)
                template = templates.get((ref["objective"], ref["channel"], ref["language"], ref["name"])) if ref else None
                if ref and template is None:
                    raise PolicyInvalid([Problem(None, None, _("Promise follow-up: template “%(name)s” does not exist here.")
                                                 % {"name": ref["name"]})])
                followup_settings_update(actor=actor, now=now, data={**conf, "reminder_template_id": template.pk if template else None})
                changed += 1
            guardrails = PlanGuardrails.objects.select_for_update().get_or_create(pk=1)[0]
            changed += _save_audited(actor=actor, obj=guardrails, fields=GUARDRAIL_FIELDS, data=data["guardrails"],
                                     action="guardrails", now=now)
        except ValidationError as exc:
            raise PolicyInvalid([Problem(None, None, m) for m in exc.messages])
    return changed


# --- Creditors ---------------------------------------------------------------------------------

def creditor_save(*, actor, creditor_id: int | None, data: dict[str, Any], now: dt.datetime | None = None):
    from cases.models import Creditor

    now = now or timezone.now()
    with transaction.atomic():
        obj = Creditor.objects.select_for_update().get(pk=creditor_id) if creditor_id else Creditor()
        _save_audited(actor=actor, obj=obj, fields=CREDITOR_FIELDS, data=data, action="creditor", now=now)
    from cases.selectors import creditor_currencies_forget

    creditor_currencies_forget()  # the dashboard's currency choice
    return obj

