"""The engine's method in the admin area (issue #18): the strategy rules' window, amount and
scope checked as a whole, edited on the rules page, moved by export and import; the excuse
categories' barrier kind; what happens to commitments while a case is paused."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation

from collections_crm.adminarea import services
from collections_crm.adminarea.checks import check_rules
from collections_crm.audit.models import AuditLog
from contacts.models import ExcuseCategory, FollowUpSettings, StrategyRule

from ..factories import CreditorFactory
from .test_policies import ALL, _rule_post, rule

ACME, OTHER = 7, 8  # creditor ids: the checks take plain rows
FALLBACK = rule(90, "always", "remind", name="fallback")


def _found(rules):
    return [(p.index, p.field) for p in check_rules(rules, objectives_with_steps=ALL)]


# --- Pure checks: each condition's N, D and amount ---------------------------------------------

@pytest.mark.parametrize("condition, params, expected", [
    # At least N excuses within the last D days: N ≥ 1 and D ≥ 1, no amount.
    ("excuses_in_window", {"threshold": 3, "window_days": 30}, []),
    ("excuses_in_window", {"threshold": 1, "window_days": 1}, []),
    ("excuses_in_window", {"threshold": 0, "window_days": 30}, ["threshold"]),
    ("excuses_in_window", {"threshold": 3, "window_days": 0}, ["window_days"]),
    ("excuses_in_window", {"threshold": 3, "window_days": 30, "amount": "100"}, ["amount"]),
    # Balance at or above an amount and N days past due: amount > 0, N ≥ 0, no D.
    ("balance_at_least", {"threshold": 0, "amount": "3000"}, []),
    ("balance_at_least", {"threshold": 60, "amount": "0.01"}, []),
    ("balance_at_least", {"threshold": 60}, ["amount"]),
    ("balance_at_least", {"threshold": 60, "amount": "0"}, ["amount"]),
    ("balance_at_least", {"threshold": 60, "amount": "-5"}, ["amount"]),
    ("balance_at_least", {"threshold": 60, "amount": "3000", "window_days": 30}, ["window_days"]),
    # At least N days since the last contact: N ≥ 1 only.
    ("days_since_contact_at_least", {"threshold": 14}, []),
    ("days_since_contact_at_least", {"threshold": 0}, ["threshold"]),
    ("days_since_contact_at_least", {"threshold": 14, "window_days": 14}, ["window_days"]),
    ("days_since_contact_at_least", {"threshold": 14, "amount": "50"}, ["amount"]),
    # The conditions without parameters.
    ("argument_given", {}, []),
    ("argument_given", {"threshold": 1}, ["threshold"]),
    ("partial_payment_no_agreement", {}, []),
    ("partial_payment_no_agreement", {"window_days": 7}, ["window_days"]),
    ("acknowledged_no_date", {}, []),
    ("acknowledged_no_date", {"amount": "10"}, ["amount"]),
    # The conditions that were there before take no D and no amount either.
    ("days_past_due_at_least", {"threshold": 30, "amount": "500"}, ["amount"]),
    ("broken_promises_at_least", {"threshold": 2, "window_days": 30}, ["window_days"]),
    ("refusal", {"threshold": 0, "window_days": 0, "amount": None}, []),
])
def test_each_condition_takes_its_own_parameters(condition, params, expected):
    assert _found([rule(10, condition, "pressure", **params), FALLBACK]) == [(0, field) for field in expected]


@pytest.mark.parametrize("language, messages", [
    ("en", ["This condition needs a window D of at least 1 day.", "This condition takes no amount; leave it empty."]),
    ("es", ["Esta condición necesita una ventana D de al menos 1 día.", "Esta condición no usa importe; déjelo vacío."]),
])
def test_a_parameter_problem_says_what_the_condition_needs(language, messages):
    rules = [rule(10, "excuses_in_window", "pressure", threshold=3), rule(20, "refusal", "pressure", amount="5"), FALLBACK]
    with translation.override(language):
        assert [p.message for p in check_rules(rules, objectives_with_steps=ALL)] == messages


def test_a_rule_with_wrong_parameters_is_reported_once_not_also_as_unreachable():
    rules = [rule(10, "balance_at_least", "pressure", threshold=0), rule(20, "balance_at_least", "pressure", amount="100"), FALLBACK]
    assert _found(rules) == [(0, "amount")]


# --- Pure checks: reachability with scope --------------------------------------------------------

@pytest.mark.parametrize("earlier, later, expected", [
    # An earlier rule for every case covers a later scoped one with the same condition...
    (rule(10, "refusal", "pressure"), rule(20, "refusal", "change_terms", creditor_id=ACME), [(1, "condition")]),
    (rule(10, "partial_payment_no_agreement", "get_commitment"),
     rule(20, "partial_payment_no_agreement", "get_commitment", debtor_kind="company"), [(1, "condition")]),
    # ...but a scoped rule never makes a later rule for every case unreachable.
    (rule(10, "refusal", "pressure", creditor_id=ACME), rule(20, "refusal", "change_terms"), []),
    (rule(10, "refusal", "pressure", debtor_kind="person"), rule(20, "refusal", "change_terms"), []),
    # Scopes that differ or only overlap do not cover each other; a wider one covers a narrower one.
    (rule(10, "refusal", "pressure", creditor_id=ACME), rule(20, "refusal", "change_terms", creditor_id=OTHER), []),
    (rule(10, "refusal", "pressure", debtor_kind="person"), rule(20, "refusal", "pressure", creditor_id=ACME), []),
    (rule(10, "refusal", "pressure", creditor_id=ACME),
     rule(20, "refusal", "change_terms", creditor_id=ACME, debtor_kind="person"), [(1, "condition")]),
    # Same scope, same condition and parameters, another objective: a contradiction.
    (rule(10, "argument_given", "change_terms", creditor_id=ACME), rule(20, "argument_given", "pressure", creditor_id=ACME),
     [(1, "objective")]),
    (rule(10, "argument_given", "change_terms"), rule(20, "argument_given", "change_terms"), [(1, "condition")]),
    # Thresholds, scoped: covered the same way as without a scope.
    (rule(10, "days_past_due_at_least", "remind", 30), rule(20, "days_past_due_at_least", "pressure", 120, debtor_kind="company"),
     [(1, "condition")]),
    (rule(10, "days_past_due_at_least", "pressure", 120), rule(20, "days_past_due_at_least", "remind", 30, debtor_kind="company"), []),
    (rule(10, "days_since_contact_at_least", "remind", 7), rule(20, "days_since_contact_at_least", "pressure", 14), [(1, "condition")]),
    (rule(10, "days_since_contact_at_least", "pressure", 14), rule(20, "days_since_contact_at_least", "remind", 7), []),
    # Excuses within a window: covered only within the same window D, by a lower or equal N.
    (rule(10, "excuses_in_window", "pressure", 2, window_days=30), rule(20, "excuses_in_window", "pressure", 3, window_days=30),
     [(1, "condition")]),
    (rule(10, "excuses_in_window", "pressure", 2, window_days=30), rule(20, "excuses_in_window", "pressure", 3, window_days=60), []),
    (rule(10, "excuses_in_window", "pressure", 3, window_days=30), rule(20, "excuses_in_window", "pressure", 2, window_days=30), []),
    (rule(10, "excuses_in_window", "pressure", 3, window_days=30),
     rule(20, "excuses_in_window", "change_terms", 3, window_days=30), [(1, "objective")]),
    # Balance: covered by a lower or equal amount and a lower or equal N.
    (rule(10, "balance_at_least", "pressure", 0, amount="1000"), rule(20, "balance_at_least", "pressure", 60, amount="3000"),
     [(1, "condition")]),
    (rule(10, "balance_at_least", "pressure", 60, amount="3000"), rule(20, "balance_at_least", "pressure", 60, amount="3000",
                                                                       creditor_id=ACME), [(1, "condition")]),
    (rule(10, "balance_at_least", "pressure", 0, amount="3000"), rule(20, "balance_at_least", "pressure", 60, amount="1000"), []),
    (rule(10, "balance_at_least", "pressure", 90, amount="1000"), rule(20, "balance_at_least", "pressure", 60, amount="3000"), []),
    (rule(10, "balance_at_least", "pressure", 60, amount="3000"),
     rule(20, "balance_at_least", "change_terms", 60, amount="3000"), [(1, "objective")]),
    # A scoped "Always" ahead of the fallback takes every case of its scope, and only those.
    (rule(10, "always", "pressure", creditor_id=ACME), rule(20, "refusal", "pressure", creditor_id=ACME), [(1, "position")]),
    (rule(10, "always", "pressure", creditor_id=ACME), rule(20, "refusal", "pressure"), []),
    (rule(10, "always", "pressure", debtor_kind="person"), rule(20, "refusal", "pressure", creditor_id=ACME), []),
    # The fallback for every case comes before any rule, scoped or not (here also before the other fallback).
    (rule(10, "always", "remind", name="first"), rule(20, "refusal", "pressure", creditor_id=ACME),
     [(1, "position"), (2, "position")]),
])
def test_reachability_considers_the_scope(earlier, later, expected):
    assert _found([earlier, later, FALLBACK]) == expected


def test_unreachable_scoped_rules_name_the_rule_that_takes_their_cases():
    scoped_always = rule(10, "always", "pressure", creditor_id=ACME, name="ACME always")
    with translation.override("en"):
        problems = check_rules([scoped_always, rule(20, "refusal", "pressure", creditor_id=ACME), FALLBACK], objectives_with_steps=ALL)
    assert [p.message for p in problems] == ["Unreachable: rule “ACME always” comes first and matches every case in its scope."]


@pytest.mark.parametrize("scope, field", [({"creditor_id": ACME}, "creditor"), ({"debtor_kind": "company"}, "debtor_kind"),
                                          ({"creditor_id": ACME, "debtor_kind": "person"}, "creditor")])
def test_a_scoped_fallback_leaves_other_cases_without_an_objective(scope, field):
    rules = [rule(10, "refusal", "pressure"), rule(90, "always", "remind", **scope)]
    with translation.override("en"):
        problems = check_rules(rules, objectives_with_steps=ALL)
    assert [(p.index, p.field) for p in problems] == [(1, field)]
    assert "every case" in problems[0].message
    # Followed by a fallback for every case, the scoped one is a rule like any other.
    assert _found([*rules, rule(95, "always", "remind")]) == []


# --- The rules page ------------------------------------------------------------------------------

def _rules_post(extra: dict[str, object]) -> tuple[dict, int]:
    """The rules page as posted with every stored rule unchanged and ``extra`` (field → value)
    in the empty row; returns the data and the index of that row."""
    rules = list(StrategyRule.objects.order_by("position"))
    data = {"rules-TOTAL_FORMS": len(rules) + 1, "rules-INITIAL_FORMS": len(rules), "rules-MIN_NUM_FORMS": 0,
            "rules-MAX_NUM_FORMS": 1000}
    for i, r in enumerate(rules):
        data |= _rule_post(i, r)
    n = len(rules)
    data |= {f"rules-{n}-{field}": value for field, value in extra.items()}
    return data, n


def _index_of(data: dict, condition: str) -> int:
    return next(int(k.split("-")[1]) for k, v in data.items() if k.endswith("-condition") and v == condition)


@pytest.mark.django_db
def test_rules_page_saves_window_amount_and_scope_and_audits_them(client, admin_user):
    acme = CreditorFactory(code="acme", name="ACME Telecom")
    client.force_login(admin_user)
    page = client.get(reverse("adminarea:rules")).content.decode()
    assert 'data-testid="rules-legend"' in page and f'<option value="{acme.pk}">ACME Telecom</option>' in page

    data, n = _rules_post({"position": 74, "name": "ACME companies, large debt", "condition": "balance_at_least", "threshold": 30,
                           "window_days": 0, "amount": "1500", "creditor": acme.pk, "debtor_kind": "company",
                           "objective": "pressure", "active": "on"})
    excuses = _index_of(data, "excuses_in_window")
    data |= {f"rules-{excuses}-threshold": 2, f"rules-{excuses}-window_days": 14}
    response = client.post(reverse("adminarea:rules"), data)

    assert response.status_code == 302, [f.errors for f in response.context["formset"].forms if f.errors]
    new = StrategyRule.objects.get(name="ACME companies, large debt")
    assert (new.condition, new.threshold, new.window_days, new.amount, new.creditor, new.debtor_kind) == (
        "balance_at_least", 30, 0, Decimal("1500.00"), acme, "company")
    changed = StrategyRule.objects.get(condition="excuses_in_window")
    assert (changed.threshold, changed.window_days) == (2, 14)
    # One audit row per changed rule, holding the new fields; the unchanged rules write none.
    audit = {row.action: row for row in AuditLog.objects.filter(action__startswith="strategy_rule", actor=admin_user)}
    assert set(audit) == {"strategy_rule.created", "strategy_rule.updated"}
    assert AuditLog.objects.filter(action__startswith="strategy_rule").count() == 2
    assert audit["strategy_rule.created"].after.items() >= {"amount": "1500.00", "creditor_id": acme.pk, "debtor_kind": "company",
                                                            "threshold": 30}.items()
    assert audit["strategy_rule.updated"].after == {"threshold": 2, "window_days": 14}
    # The editor shows them back, and the policies page names the scope.
    edit = client.get(reverse("adminarea:rules")).content.decode()
    assert f'<option value="{acme.pk}" selected>ACME Telecom</option>' in edit
    assert "ACME Telecom" in client.get(reverse("adminarea:policies")).content.decode()


@pytest.mark.django_db
def test_rules_page_shows_parameter_and_scope_errors_beside_the_fields_and_writes_nothing(client, admin_user):
    client.force_login(admin_user)
    count = StrategyRule.objects.count()
    data, n = _rules_post({"position": 74, "name": "Large debt", "condition": "balance_at_least", "threshold": 30, "window_days": 7,
                           "amount": "", "objective": "pressure", "active": "on"})
    fallback = _index_of(data, "always")
    data[f"rules-{fallback}-debtor_kind"] = "person"

    response = client.post(reverse("adminarea:rules"), data)

    assert response.status_code == 200
    forms = response.context["formset"].forms
    assert set(forms[n].errors) == {"window_days", "amount"}
    assert set(forms[fallback].errors) == {"debtor_kind"}
    page = response.content.decode()
    # Beside the input, and tied to it for assistive technology.
    assert f'id="id_rules-{n}-amount_error"' in page and f'aria-describedby="id_rules-{n}-amount_error"' in page
    assert StrategyRule.objects.count() == count
    assert StrategyRule.objects.get(condition="always").debtor_kind == ""
    assert not AuditLog.objects.filter(action__startswith="strategy_rule").exists()


# --- Export and import ---------------------------------------------------------------------------

def _import(client, document) -> list[str]:
    upload = SimpleUploadedFile("p.json", json.dumps(document).encode(), content_type="application/json")
    response = client.post(reverse("adminarea:policies_import"), {"file": upload}, follow=True)
    return [m.level_tag for m in response.context["messages"]]


@pytest.mark.django_db
def test_export_then_import_keeps_window_amount_scope_barrier_kind_and_paused_commitments(client, admin_user):
    acme = CreditorFactory(code="acme")
    StrategyRule.objects.create(position=74, name="ACME companies", condition="balance_at_least", threshold=30,
                                amount=Decimal("1500.00"), creditor=acme, debtor_kind="company", objective="pressure")
    FollowUpSettings.objects.filter(pk=1).update(paused_commitments="evaluate")
    client.force_login(admin_user)
    exported = json.loads(client.get(reverse("adminarea:policies_export")).content)
    assert exported["version"] == 2
    row = next(r for r in exported["strategy_rules"] if r["name"] == "ACME companies")
    assert row.items() >= {"creditor": "acme", "amount": "1500.00", "debtor_kind": "company", "threshold": 30, "window_days": 0}.items()
    assert "creditor_id" not in row

    # This installation drifts away from the file; importing it brings everything back.
    StrategyRule.objects.filter(name="ACME companies").update(creditor=None, debtor_kind="", amount=Decimal("99"))
    StrategyRule.objects.filter(condition="excuses_in_window").update(window_days=90)
    ExcuseCategory.objects.filter(code="bank_details").update(barrier_kind="other")
    FollowUpSettings.objects.filter(pk=1).update(paused_commitments="shift")
    assert _import(client, exported) == ["success"]

    rule_ = StrategyRule.objects.get(name="ACME companies")
    assert (rule_.creditor, rule_.debtor_kind, rule_.amount) == (acme, "company", Decimal("1500.00"))
    assert StrategyRule.objects.get(condition="excuses_in_window").window_days == 30
    assert ExcuseCategory.objects.get(code="bank_details").barrier_kind == "payment_details"
    assert FollowUpSettings.objects.get(pk=1).paused_commitments == "evaluate"


@pytest.mark.django_db
def test_import_refuses_a_creditor_unknown_here_or_a_barrier_without_kind_and_writes_nothing(client, admin_user):
    client.force_login(admin_user)
    exported = services.policies_export()
    exported["strategy_rules"].append({**exported["strategy_rules"][0], "position": 5, "name": "Elsewhere", "creditor": "nowhere"})
    exported["guardrails"]["max_instalments"] = 24
    assert _import(client, exported) == ["error"]
    bad_excuse = services.policies_export()
    next(e for e in bad_excuse["excuse_categories"] if e["is_barrier"])["barrier_kind"] = ""
    assert _import(client, bad_excuse) == ["error"]
    assert not StrategyRule.objects.filter(name="Elsewhere").exists()
    assert not AuditLog.objects.exists()


@pytest.mark.django_db
def test_a_version_1_export_without_the_new_fields_still_imports(client, admin_user):
    """A file from before issue #18: rules with no window, amount or scope (and none of the new
    conditions), excuse categories without a barrier kind, no paused-commitments setting."""
    client.force_login(admin_user)
    FollowUpSettings.objects.filter(pk=1).update(paused_commitments="evaluate")
    old = services.policies_export()
    old["version"] = 1
    old_conditions = {"open_barrier", "promise_pending", "consequence_applied", "broken_promises_at_least", "refusal",
                      "excuse_given", "days_past_due_at_least", "always"}
    old["strategy_rules"] = [{k: v for k, v in r.items() if k not in services.RULE_IMPORT_DEFAULTS}
                             for r in old["strategy_rules"] if r["condition"] in old_conditions]
    old["excuse_categories"] = [{k: v for k, v in e.items() if k != "barrier_kind"} for e in old["excuse_categories"]]
    old["excuse_categories"].append({**old["excuse_categories"][0], "code": "no_po_number", "name_en": "No PO number"})
    del old["followup_settings"]["paused_commitments"]

    assert _import(client, old) == ["success"]

    assert StrategyRule.objects.count() == len(old["strategy_rules"])
    assert set(StrategyRule.objects.values_list("window_days", "amount", "creditor", "debtor_kind")) == {(0, None, None, "")}
    # A barrier category keeps the kind it has here; one new here opens an "other" barrier.
    assert ExcuseCategory.objects.get(code="invoice_not_received").barrier_kind == "invoice_copy"
    assert ExcuseCategory.objects.get(code="no_po_number").barrier_kind == "other"
    assert ExcuseCategory.objects.get(code="no_funds").barrier_kind == ""
    assert FollowUpSettings.objects.get(pk=1).paused_commitments == "evaluate"


# --- Excuse categories: the barrier kind -----------------------------------------------------------

@pytest.mark.django_db
def test_a_barrier_category_needs_a_barrier_kind_and_another_must_not_have_one(client, admin_user):
    client.force_login(admin_user)
    base = {"code": "no_po_number", "name_es": "Falta el número de pedido", "name_en": "No purchase-order number",
            "suggested_objective": "remove_barriers", "position": 30, "active": "on"}
    url = reverse("adminarea:excuse_new")

    response = client.post(url, base | {"is_barrier": "on"})
    assert list(response.context["form"].errors) == ["barrier_kind"]
    response = client.post(url, base | {"barrier_kind": "invoice_copy"})
    assert list(response.context["form"].errors) == ["barrier_kind"]
    assert not ExcuseCategory.objects.filter(code="no_po_number").exists()

    assert client.post(url, base | {"is_barrier": "on", "barrier_kind": "tax_certificate"}).status_code == 302
    created = ExcuseCategory.objects.get(code="no_po_number")
    assert (created.is_barrier, created.barrier_kind) == (True, "tax_certificate")
    assert AuditLog.objects.get(action="excuse_category.created").after["barrier_kind"] == "tax_certificate"

    # Editing a seeded barrier: no longer a barrier, its kind must go too.
    invoice = ExcuseCategory.objects.get(code="invoice_not_received")
    edit = {f: getattr(invoice, f) for f in ("code", "name_es", "name_en", "suggested_objective", "position")} | {"active": "on"}
    response = client.post(reverse("adminarea:excuse_edit", args=[invoice.pk]), edit | {"barrier_kind": "invoice_copy"})
    assert list(response.context["form"].errors) == ["barrier_kind"]
    assert client.post(reverse("adminarea:excuse_edit", args=[invoice.pk]), edit).status_code == 302
    invoice.refresh_from_db()
    assert (invoice.is_barrier, invoice.barrier_kind) == (False, "")
    created_row = client.get(reverse("adminarea:catalogues")).content.decode()
    assert "Certificado fiscal actualizado" in created_row.split("Falta el número de pedido")[1].split("</tr>")[0]


# --- Follow-up settings: commitments while a case is paused -----------------------------------------

@pytest.mark.django_db
def test_follow_up_settings_edit_what_happens_to_commitments_while_paused(client, admin_user):
    client.force_login(admin_user)
    data = {"promise_grace_days": 1, "reminder_days_before": 1, "reminder_channel": "sms", "missed_instalments_to_default": 2}
    response = client.post(reverse("adminarea:followup_settings"), data | {"paused_commitments": "forget"})
    assert list(response.context["form"].errors) == ["paused_commitments"]
    assert client.post(reverse("adminarea:followup_settings"), data | {"paused_commitments": "evaluate"}).status_code == 302
    assert FollowUpSettings.objects.get(pk=1).paused_commitments == "evaluate"
    assert AuditLog.objects.get(action="followup_settings.updated").after == {"paused_commitments": "evaluate"}
    page = client.get(reverse("adminarea:policies")).content.decode()
    assert "Se evalúan tal como están cuando termina la pausa" in page
