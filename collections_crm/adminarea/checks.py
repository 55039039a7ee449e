"""Consistency checks for policies, as pure functions over plain rows (no ORM): an admin's edit
is refused when it would leave the engine with contradictory or unreachable rules, an objective
with no cadence, or a contact policy that cannot be applied. Each problem names the row index
(None for the whole set) and the field, so the editor can show it beside the input."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.utils.translation import gettext as _

from cases.choices import Channel, Objective

# The follow-up engine's rule conditions that take a threshold N ("at least N ...").
THRESHOLD_CONDITIONS = {"broken_promises_at_least", "days_past_due_at_least"}
FALLBACK_CONDITION = "always"
SENDABLE_CHANNELS = {"email", "sms", "letter", "whatsapp"}
COUNTRY_RE = re.compile(r"^[A-Z]{2}$")


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


def check_rules(rules: list[dict], *, objectives_with_steps: set[str]) -> list[Problem]:
    """``rules``: dicts with position, name, condition, threshold, objective, active."""
    problems: list[Problem] = []
    seen_positions: dict[int, int] = {}
    for i, rule in enumerate(rules):
        if rule["position"] in seen_positions:
            problems.append(Problem(i, "position", _("Two rules share position %(p)d.") % {"p": rule["position"]}))
        seen_positions[rule["position"]] = i
        if rule["condition"] in THRESHOLD_CONDITIONS and (rule["threshold"] or 0) < 1:
            problems.append(Problem(i, "threshold", _("This condition needs a threshold N of at least 1.")))
        if rule["condition"] not in THRESHOLD_CONDITIONS and rule["threshold"]:
            problems.append(Problem(i, "threshold", _("This condition takes no threshold; leave it at 0.")))
        if rule["active"] and rule["objective"] not in objectives_with_steps:
            problems.append(Problem(i, "objective", _("The objective %(o)s has no cadence steps: add steps to its cadence first.")
                                    % {"o": Objective(rule["objective"]).label}))

    active = sorted((i for i, r in enumerate(rules) if r["active"]), key=lambda i: rules[i]["position"])
    if not any(rules[i]["condition"] == FALLBACK_CONDITION for i in active):
        problems.append(Problem(None, None, _("An active fallback rule (condition \"Always\") is needed so every case gets an objective.")))
    earlier: list[int] = []
    for i in active:
        rule = rules[i]
        for j in earlier:
            other = rules[j]
            if other["condition"] == FALLBACK_CONDITION:
                problems.append(Problem(i, "position", _("Unreachable: the fallback rule “%(name)s” comes before it.") % {"name": other["name"]}))
                break
            if other["condition"] != rule["condition"]:
                continue
            same = other["threshold"] == rule["threshold"]
            covered = rule["condition"] in THRESHOLD_CONDITIONS and other["threshold"] <= rule["threshold"]
            if same and other["objective"] != rule["objective"]:
                problems.append(Problem(i, "objective", _("Contradicts rule “%(name)s”: same condition, another objective.") % {"name": other["name"]}))
                break
            if same or covered:
                problems.append(Problem(i, "condition", _("Unreachable: rule “%(name)s” comes first and already matches every such case.") % {"name": other["name"]}))
                break
        earlier.append(i)
    return problems


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
