"""Consistency checks for policies, as pure functions over plain rows (no ORM): an admin's edit
is refused when it would leave the engine with contradictory or unreachable rules, an objective
with no cadence, or a contact policy that cannot be applied. Each problem names the row index
(None for the whole set) and the field, so the editor can show it beside the input."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.utils.translation import gettext as _

from cases.choices import Channel, Objective

FALLBACK_CONDITION = "always"
SENDABLE_CHANNELS = {"email", "sms", "letter", "whatsapp"}
COUNTRY_RE = re.compile(r"^[A-Z]{2}$")


@dataclass(frozen=True)
class RuleParameters:
    """What a rule condition reads besides its scope: the least N (``threshold``) it takes, or
    None when it takes no N; whether it takes a window of D days (``window_days``, at least 1)
    and an amount (more than 0). A parameter a condition does not take must stay 0 or empty."""

    min_threshold: int | None = None
    window: bool = False
    amount: bool = False


# The parameters of the follow-up engine's rule conditions (contacts.engine.planner._match);
# a condition missing here takes none.
RULE_PARAMETERS = {
    "broken_promises_at_least": RuleParameters(min_threshold=1),
    "excuses_in_window": RuleParameters(min_threshold=1, window=True),
    "balance_at_least": RuleParameters(min_threshold=0, amount=True),
    "days_since_contact_at_least": RuleParameters(min_threshold=1),
    "days_past_due_at_least": RuleParameters(min_threshold=1),
}
NO_PARAMETERS = RuleParameters()


@dataclass(frozen=True)
class Problem:
    index: int | None
    field: str | None
    message: str


class PolicyInvalid(Exception):
    """Raised by a service when a policy change fails its checks; nothing was written."""

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


def _parameter_problems(i: int, rule: dict) -> list[Problem]:
    """The rule's N, D and amount against what its condition takes (RULE_PARAMETERS)."""
    takes = RULE_PARAMETERS.get(rule["condition"], NO_PARAMETERS)
    threshold, window, amount = rule["threshold"] or 0, rule["window_days"] or 0, rule["amount"]
    problems = []
    if takes.min_threshold is None and threshold:
        problems.append(Problem(i, "threshold", _("This condition takes no threshold; leave it at 0.")))
    elif takes.min_threshold is not None and threshold < takes.min_threshold:
        problems.append(Problem(i, "threshold", _("This condition needs a threshold N of at least %(n)d.")
                                % {"n": takes.min_threshold}))
    if takes.window and window < 1:
        problems.append(Problem(i, "window_days", _("This condition needs a window D of at least 1 day.")))
    elif not takes.window and window:
        problems.append(Problem(i, "window_days", _("This condition takes no window; leave D at 0.")))
    if takes.amount and (amount is None or amount <= 0):
        problems.append(Problem(i, "amount", _("This condition needs an amount greater than 0.")))
    elif not takes.amount and amount is not None:
        problems.append(Problem(i, "amount", _("This condition takes no amount; leave it empty.")))
    return problems


def _scoped(rule: dict) -> bool:
    return rule["creditor_id"] is not None or bool(rule["debtor_kind"])


def _scope_field(rule: dict) -> str:
    """The scope field to show a scope problem beside."""
    return "creditor" if rule["creditor_id"] is not None else "debtor_kind"


def _scope_covers(earlier: dict, later: dict) -> bool:
    """Whether every case in ``later``'s scope is in ``earlier``'s: ``earlier`` names no creditor
    or the same one, and no debtor kind or the same one. (A scoped rule never covers an
    unscoped one; an unscoped rule covers every rule.)"""
    return (earlier["creditor_id"] is None or earlier["creditor_id"] == later["creditor_id"]) and (
        not earlier["debtor_kind"] or earlier["debtor_kind"] == later["debtor_kind"])


def _same_parameters(earlier: dict, later: dict) -> bool:
    return all(earlier[f] == later[f] for f in ("threshold", "window_days", "amount"))


def _parameters_cover(earlier: dict, later: dict) -> bool:
    """For two rules of the same condition with valid parameters: whether every case that meets
    ``later``'s condition meets ``earlier``'s. "At least N" is met by every case that meets a
    higher N; "at least N excuses within D days" only compared within the same D; "balance at
    or above an amount and N days past due" by a lower-or-equal amount and N."""
    condition = later["condition"]
    if condition == "excuses_in_window":
        return earlier["window_days"] == later["window_days"] and earlier["threshold"] <= later["threshold"]
    if condition == "balance_at_least":
        return earlier["amount"] <= later["amount"] and earlier["threshold"] <= later["threshold"]
    if condition in RULE_PARAMETERS:
        return earlier["threshold"] <= later["threshold"]
    return True  # no parameters: the same condition holds for the same cases


def check_rules(rules: list[dict], *, objectives_with_steps: set[str]) -> list[Problem]:
    """The strategy as a whole. ``rules``: dicts with position, name, condition, threshold (N),
    window_days (D), amount (or None), creditor_id (or None), debtor_kind ("" for every kind),
    objective and active. Refused: a shared position; parameters the condition does not take or
    lacks (RULE_PARAMETERS); an active rule to an objective without cadence steps; no active
    fallback for every case ("Always" without scope); and an active rule that can never match,
    because an earlier active rule whose scope includes its own already matches every such case
    (or, with the same scope and parameters, chooses another objective: a contradiction)."""
    problems: list[Problem] = []
    seen_positions: dict[int, int] = {}
    with_bad_parameters: set[int] = set()
    for i, rule in enumerate(rules):
        if rule["position"] in seen_positions:
            problems.append(Problem(i, "position", _("Two rules share position %(p)d.") % {"p": rule["position"]}))
        seen_positions[rule["position"]] = i
        found = _parameter_problems(i, rule)
        if found:
            with_bad_parameters.add(i)
            problems.extend(found)
        if rule["active"] and rule["objective"] not in objectives_with_steps:
            problems.append(Problem(i, "objective", _("The objective %(o)s has no cadence steps: add steps to its cadence first.")
                                    % {"o": Objective(rule["objective"]).label}))

    active = sorted((i for i, r in enumerate(rules) if r["active"]), key=lambda i: rules[i]["position"])
    fallbacks = [i for i in active if rules[i]["condition"] == FALLBACK_CONDITION]
    if not fallbacks:
        problems.append(Problem(None, None, _("An active fallback rule (condition \"Always\") is needed so every case gets an objective.")))
    elif all(_scoped(rules[i]) for i in fallbacks):
        last = fallbacks[-1]
        problems.append(Problem(last, _scope_field(rules[last]), _(
            "The fallback rule must apply to every case: limited to a creditor or a kind of debtor, it leaves the other cases "
            "without an objective. Clear its scope or add a fallback for every case after it.")))
    earlier: list[int] = []
    for i in active:
        rule = rules[i]
        for j in earlier:
            other = rules[j]
            if not _scope_covers(other, rule):
                continue
            if other["condition"] == FALLBACK_CONDITION:
                if _scoped(other):
                    message = _("Unreachable: rule “%(name)s” comes first and matches every case in its scope.")
                else:
                    message = _("Unreachable: the fallback rule “%(name)s” comes before it.")
                problems.append(Problem(i, "position", message % {"name": other["name"]}))
                break
            if other["condition"] != rule["condition"] or {i, j} & with_bad_parameters:
                continue
            same_scope = (other["creditor_id"], other["debtor_kind"]) == (rule["creditor_id"], rule["debtor_kind"])
            if same_scope and _same_parameters(other, rule) and other["objective"] != rule["objective"]:
                problems.append(Problem(i, "objective", _("Contradicts rule “%(name)s”: same condition, another objective.") % {"name": other["name"]}))
                break
            if _parameters_cover(other, rule):
                problems.append(Problem(i, "condition", _("Unreachable: rule “%(name)s” comes first and already matches every such case.") % {"name": other["name"]}))
                break
        earlier.append(i)
    return problems


def check_excuse_category(category: dict) -> list[Problem]:
    """``category``: dict with is_barrier and barrier_kind. A payment-barrier category names the
    barrier that logging it opens on the case; any other category names none."""
    if category["is_barrier"] and not category["barrier_kind"]:
        return [Problem(0, "barrier_kind", _("Choose the barrier this excuse opens."))]
    if not category["is_barrier"] and category["barrier_kind"]:
        return [Problem(0, "barrier_kind", _("Only a payment barrier opens a barrier: leave this empty or mark the category as a barrier."))]
    return []


def check_cadence(*, objective: str, repeat_every_days: int, steps: list[dict], templates: dict[int, tuple[str, str]],
                  objectives_channels_with_template: set[tuple[str, str]]) -> list[Problem]:
    """``steps``: dicts with delay_days, channel, kind, template_id (or None), in order.
    ``templates``: template id → (objective, channel)."""
    problems: list[Problem] = []
    if not steps:
        problems.append(Problem(None, None, _("A cadence needs at least one step.")))
    if repeat_every_days < 1:
        problems.append(Problem(None, "repeat_every_days", _("Repeat every 1 day or more.")))
    previous = -1
    for i, step in enumerate(steps):
        if step["delay_days"] < previous:
            problems.append(Problem(i, "delay_days", _("Steps must be in day order: this one comes before the previous step.")))
        previous = max(previous, step["delay_days"])
        if step["kind"] == "automatic" and step["channel"] not in SENDABLE_CHANNELS:
            problems.append(Problem(i, "kind", _("A %(channel)s step cannot be automatic: make it an agent task.")
                                    % {"channel": Channel(step["channel"]).label}))
        template_id = step.get("template_id")
        if template_id:
            t_objective, t_channel = templates.get(template_id, (None, None))
            if t_channel != step["channel"]:
                problems.append(Problem(i, "template", _("The template is for another channel.")))
            elif t_objective != objective:
                problems.append(Problem(i, "template", _("The template is for another objective.")))
        elif step["kind"] == "automatic" and (objective, step["channel"]) not in objectives_channels_with_template:
            problems.append(Problem(i, "template", _("No active template exists for this objective and channel; choose one.")))
    return problems


def _csv(value: str) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def check_packs(packs: list[dict], *, supported_holiday_countries: set[str]) -> list[Problem]:
    """``packs``: dicts with the JurisdictionPack fields (times as datetime.time)."""
    problems: list[Problem] = []
    owner: dict[str, int] = {}
    channels = set(Channel.values)
    for i, pack in enumerate(packs):
        countries = [c.upper() for c in _csv(pack["countries"])]
        if not countries:
            problems.append(Problem(i, "countries", _("List at least one country code, e.g. ES.")))
        for code in countries:
            if not COUNTRY_RE.match(code):
                problems.append(Problem(i, "countries", _("“%(code)s” is not a two-letter country code.") % {"code": code}))
            elif pack["active"] and code in owner:
                problems.append(Problem(i, "countries", _("%(code)s is already covered by pack “%(name)s”.")
                                        % {"code": code, "name": packs[owner[code]]["name"]}))
            elif pack["active"]:
                owner[code] = i
        if pack["start_time"] >= pack["end_time"]:
            problems.append(Problem(i, "end_time", _("The end of the contact hours must come after the start.")))
        days = _csv(pack["weekdays"])
        if not days or any(d not in {"1", "2", "3", "4", "5", "6", "7"} for d in days) or len(set(days)) != len(days):
            problems.append(Problem(i, "weekdays", _("Weekdays are numbers 1 (Monday) to 7 (Sunday), separated by commas, each once.")))
        for field in ("hours_channels", "consent_channels"):
            unknown = [c for c in _csv(pack[field]) if c not in channels]
            if unknown:
                problems.append(Problem(i, field, _("Unknown channel(s): %(list)s.") % {"list": ", ".join(unknown)}))
        if pack["skip_holidays"] and pack["holiday_country"].upper() not in supported_holiday_countries:
            problems.append(Problem(i, "holiday_country", _("Choose a country with a holiday calendar to skip holidays.")))
    if not any(p["active"] and p["is_default"] for p in packs):
        problems.append(Problem(None, None, _("One active pack must be the default for debtors of other countries.")))
    if sum(1 for p in packs if p["is_default"]) > 1:
        problems.append(Problem(None, None, _("Only one pack can be the default.")))
    return problems
