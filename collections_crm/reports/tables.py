"""Every dashboard table as data: columns, rows and the drill-down link of each figure. The
page renders them, the CSV/XLSX export writes them, so both always say the same thing."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.urls import reverse
from django.utils.encoding import force_str
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from cases.choices import PromiseStatus
from collections_crm.core.dates import add_months, month_end

from . import selectors
from .metrics import BUCKET_LABELS, CLOSED, MIN_SAMPLE
from .services.rebuild import effect_window_days


@dataclass
class Column:
    key: str
    label: object
    kind: str = "text"  # text | int | money | pct | interval


# A page shows at most this many rows of a table (a whole company has a thousand agents); the
# CSV/XLSX export has them all.
PAGE_ROWS = 100


@dataclass
class Table:
    name: str
    title: object
    columns: list[Column]
    rows: list[dict] = field(default_factory=list)
    note: object = ""

    @property
    def page_rows(self) -> list[dict]:
        return self.rows[:PAGE_ROWS]

    @property
    def hidden_rows(self) -> int:
        return max(0, len(self.rows) - PAGE_ROWS)




class Linker:
    """Builds drill-down URLs that keep the dashboard's filters."""

    def __init__(self, filters: dict[str, str]):
        self.filters = {k: v for k, v in filters.items() if v not in (None, "")}
        self.base = reverse("reports:drill")
        # A whole company's tables have thousands of links: the filters are encoded once.
        self.prefix = f"{self.base}?{urlencode(self.filters)}&" if self.filters else f"{self.base}?"

    def __call__(self, kind: str, **params) -> str:
        params = {k: v for k, v in params.items() if v not in (None, "")}
        if params.keys() & self.filters.keys():
            return f"{self.base}?{urlencode({**self.filters, 'kind': kind, **params})}"
        return f"{self.prefix}{urlencode({'kind': kind, **params})}"


def _pct_cells(prefix: str, p) -> dict:
    return {prefix: p.rate, f"{prefix}_ci": (p.low, p.high) if p.n else None}


def build_tables(scope: selectors.Scope, filters: dict[str, str], *, cut: str = "technique") -> tuple[dict[str, Table], dict]:
    """All tables of the dashboard for ``scope`` and the raw figures (for the charts)."""
    link = Linker(filters)
    portfolio = selectors.portfolio_figures(scope)
    rolls = selectors.roll_rates(scope)
    recovery = selectors.recovery_over_time(scope)
    promises = selectors.promise_figures(scope)
    activity = selectors.activity_figures(scope)
    objectives = selectors.objective_figures(scope)
    techniques = selectors.technique_effectiveness(scope, cut)
    tables: dict[str, Table] = {}

    tables["summary"] = Table("summary", _("Portfolio"), [Column("figure", _("Figure")), Column("value", _("Value"), "money"), Column("count", _("Cases"), "int")], [
        {"figure": _("Placed in the period"), "value": portfolio["placed_amount"], "count": portfolio["placed_cases"], "_links": {"count": link("placed"), "value": link("placed")}},
        {"figure": _("Collected in the period"), "value": portfolio["collected"], "count": portfolio["payments"], "_links": {"value": link("collected"), "count": link("collected")}},
        {"figure": _("Outstanding now"), "value": portfolio["outstanding"], "count": portfolio["open_cases"], "_links": {"value": link("open"), "count": link("open")}},
    ])
    tables["aging"] = Table("aging", _("Aging of open cases"), [Column("bucket", _("Days past due")), Column("cases", _("Cases"), "int"), Column("balance", _("Balance"), "money")], [
        {"bucket": BUCKET_LABELS[r["bucket"]], "cases": r["cases"], "balance": r["balance"], "_links": {"cases": link("open", bucket=r["bucket"]), "balance": link("open", bucket=r["bucket"])}}
        for r in portfolio["aging"]
    ])
    tables["rolls"] = Table("rolls", _("Roll rates between aging buckets"), [
        Column("month", _("From month end")), Column("bucket", _("Bucket")), Column("cases", _("Cases"), "int"), Column("balance", _("Balance"), "money"),
        Column("roll_rate", _("Rolled to a worse bucket"), "pct"), Column("balance_roll_rate", _("Balance rolled"), "pct"), Column("closed_rate", _("Paid or closed"), "pct"),
    ], [
        {"month": date_format(r["month"], "YEAR_MONTH_FORMAT"), "bucket": BUCKET_LABELS[r["bucket"]], "cases": r["cases"], "balance": r["balance"],
         "roll_rate": r["roll_rate"], "balance_roll_rate": r["balance_roll_rate"], "closed_rate": r["closed_rate"],
         "_links": {"cases": link("roll", month=r["month"].isoformat(), bucket=r["bucket"]),
                    "closed_rate": link("roll", month=r["month"].isoformat(), bucket=r["bucket"], to=CLOSED)}}
        for r in rolls["series"]
    ], note=_("Cases open at a month end and where they were one month later (today for the month in progress)."))
    tables["recovery"] = Table("recovery", _("Recovery over time"), [
        Column("month", _("Month")), Column("placed", _("Placed"), "money"), Column("opening", _("Open at start"), "money"),
        Column("collected", _("Collected"), "money"), Column("liquidation_rate", _("Liquidation rate"), "pct"),
    ], [
        {"month": date_format(r["month"], "YEAR_MONTH_FORMAT"), "placed": r["placed"], "opening": r["opening"], "collected": r["collected"],
         "liquidation_rate": r["liquidation_rate"],
         "_links": {k: link(k, date_from=max(r["month"], scope.date_from).isoformat(), date_to=min(month_end(r["month"]), scope.date_to).isoformat())
                    for k in ("placed", "collected")}}
        for r in recovery
    ], note=_("Liquidation rate: collected in the month divided by the balance open at the end of the previous month."))

    promise_columns = [
        Column("made", _("Made"), "int"), Column("kept", _("Kept"), "int"), Column("partial", _("Partially kept"), "int"),
        Column("broken", _("Broken"), "int"), Column("pending", _("Pending"), "int"), Column("amount", _("Promised"), "money"),
        Column("amount_paid", _("Paid"), "money"), Column("kept_rate", _("Kept rate"), "pct"), Column("kept_rate_ci", _("95 % interval"), "interval"),
    ]

    def promise_row(label_key, label, r, **drill):
        statuses = {"made": "", "kept": PromiseStatus.KEPT, "partial": PromiseStatus.PARTIAL, "broken": PromiseStatus.BROKEN, "pending": PromiseStatus.PENDING}
        return {label_key: label, **{k: r[k] for k in ("made", "kept", "partial", "broken", "pending", "amount", "amount_paid")},
                **_pct_cells("kept_rate", r["kept_rate"]),
                "_links": {k: link("promises", status=s, **drill) for k, s in statuses.items()}}

    tables["promises"] = Table("promises", _("Promises made in the period"), [Column("label", "")] + promise_columns,
                               [promise_row("label", _("All"), promises["total"])],
                               note=_("Kept rate: kept among the promises already resolved (kept, partially kept or broken)."))
    tables["promises_by_agent"] = Table("promises_by_agent", _("Promises by agent"), [Column("agent", _("Agent"))] + promise_columns, [
        promise_row("agent", r["agent"] or _("System"), r, agent=r["agent_id"]) for r in promises["by_agent"]
    ])
    tables["promises_by_objective"] = Table("promises_by_objective", _("Promises by objective"), [Column("objective", _("Objective"))] + promise_columns, [
        promise_row("objective", r["label"], r, objective=r["objective"]) for r in promises["by_objective"]
    ])
    tables["activity"] = Table("activity", _("Team activity by agent"), [
        Column("agent", _("Agent")), Column("attempts", _("Attempts"), "int"), Column("right_party", _("Right-party contacts"), "int"),
        Column("promises", _("Promises"), "int"), Column("collected", _("Collected"), "money"),
        Column("no_next_step", _("Cases without next step"), "int"), Column("overdue", _("Overdue follow-ups"), "int"),
    ], [
        {**{k: r[k] for k in ("attempts", "right_party", "promises", "collected", "no_next_step", "overdue")},
         "agent": r["agent"] or _("Unassigned / system"),
         "_links": {"attempts": link("attempts", agent=r["agent_id"]), "right_party": link("attempts", agent=r["agent_id"], right_party=1),
                    "promises": link("promises", agent=r["agent_id"]), "collected": link("collected", agent=r["agent_id"]),
                    "no_next_step": link("no_next_step", agent=r["agent_id"]), "overdue": link("overdue", agent=r["agent_id"])}
         if r["agent_id"] else {}}
        for r in activity["agents"]
    ])
    tables["activity_days"] = Table("activity_days", _("Team activity by day"), [
        Column("day", _("Day")), Column("attempts", _("Attempts"), "int"), Column("right_party", _("Right-party contacts"), "int"),
        Column("promises", _("Promises"), "int"), Column("collected", _("Collected"), "money"),
    ], [
        {"day": date_format(r["day"], "SHORT_DATE_FORMAT"), **{k: r[k] for k in ("attempts", "right_party", "promises", "collected")},
         "_links": {k: link(k, date_from=r["day"].isoformat(), date_to=r["day"].isoformat()) for k in ("attempts", "promises", "collected")}}
        for r in activity["days"]
    ])
    tables["objectives"] = Table("objectives", _("Objectives: cases and yield"), [
        Column("label", _("Objective")), Column("cases", _("Open cases"), "int"), Column("balance", _("Balance"), "money"),
        Column("attempts", _("Interactions"), "int"), Column("promise_rate", _("Led to a promise"), "pct"), Column("promise_rate_ci", _("95 % interval"), "interval"),
        Column("money_rate", _("Led to money"), "pct"), Column("money_rate_ci", _("95 % interval"), "interval"),
        Column("promised_paid", _("Paid on promises"), "money"),
    ], [
        {"label": r["label"], "cases": r["cases"], "balance": r["balance"], "attempts": r["attempts"], "promised_paid": r["promised_paid"],
         **_pct_cells("promise_rate", r["promise_rate"]), **_pct_cells("money_rate", r["money_rate"]),
         "_links": {"cases": link("open", objective=r["objective"]), "attempts": link("attempts", objective=r["objective"])}}
        for r in objectives["rows"]
    ])
    tables["objective_moves"] = Table("objective_moves", _("Movement between objectives"), [
        Column("from_label", _("From")), Column("to_label", _("To")), Column("moves", _("Cases moved"), "int"),
    ], [{**m, "_links": {"moves": link("moves", **{"from": m["from"], "to": m["to"]})}} for m in objectives["moves"]])

    cut_label = {"technique": None, "objective": _("Objective"), "excuse": _("Excuse"), "agent": _("Agent")}[techniques["cut"]]
    cut_param = {"objective": "objective", "excuse": "excuse", "agent": "agent"}.get(techniques["cut"])
    tables["techniques"] = Table("techniques", _("Technique effectiveness"), [
        Column("technique", _("Technique")), *([Column("cut_label", cut_label)] if cut_label else []),
        Column("interactions", _("Interactions"), "int"), Column("case_days", _("Case-days"), "int"),
        Column("promise", _("Led to a promise"), "pct"), Column("promise_ci", _("95 % interval"), "interval"),
        Column("kept", _("Led to a kept promise"), "pct"), Column("kept_ci", _("95 % interval"), "interval"),
        Column("money", _("Led to money"), "pct"), Column("money_ci", _("95 % interval"), "interval"),
        Column("verdict", _("Reading")),
    ], [
        {"technique": r["technique"], "cut_label": r["cut_label"] or ("—" if cut_label else None), "interactions": r["interactions"], "case_days": r["case_days"],
         **_pct_cells("promise", r["promise"]), **_pct_cells("kept", r["kept"]), **_pct_cells("money", r["money"]),
         "verdict": _("Ranked") if r["promise"].enough else _("Too few data to rank"), "_too_few": not r["promise"].enough,
         "_links": {"interactions": link("technique", technique=r["technique_id"], **({cut_param: r["cut_value"]} if cut_param else {})),
                    "case_days": link("technique", technique=r["technique_id"], **({cut_param: r["cut_value"]} if cut_param else {}))}}
        for r in techniques["rows"]
    ], note=_("Share of interactions using the technique that were followed, within %(n)d days, by a promise, a kept promise or a payment. "
              "Ranked by the lower end of the 95 %% Wilson interval; fewer than %(min)d interactions are not ranked. "
              "Case-days count each case once per day it was worked.") % {"n": effect_window_days(), "min": MIN_SAMPLE})
    refusals = selectors.refusal_figures(scope)
    tables["refusals"] = Table("refusals", _("Contact-policy refusals by reason"), [
        Column("label", _("Reason")), Column("refusals", _("Refusals"), "int"),
    ], [{"label": r["label"], "refusals": r["refusals"], "_links": {"refusals": link("refusals", reason=r["reason"])}} for r in refusals["by_reason"]],
        note=_("Contacts the contact policy stopped (hours, limits, do-not-contact flags, consent) in the period."))
    tables["refusals_by_channel"] = Table("refusals_by_channel", _("Refusals by channel"), [
        Column("label", _("Channel")), Column("refusals", _("Refusals"), "int"),
    ], [{"label": r["label"], "refusals": r["refusals"]} for r in refusals["by_channel"]])
    channels = selectors.channel_figures(scope)
    tables["channels"] = Table("channels", _("Results by channel"), [
        Column("label", _("Channel")), Column("collected", _("Collected"), "money"), Column("share", _("Share of the money"), "pct"),
        Column("payments", _("Payments"), "int"), Column("promises", _("Promises"), "int"), Column("promised", _("Promised"), "money"),
        Column("plans", _("Payment plans"), "int"),
    ], [{k: r[k] for k in ("label", "collected", "share", "payments", "promises", "promised", "plans")} for r in channels["rows"]],
        note=_("An online payment counts for the self-service portal; any other payment, promise or plan for the channel of the case's "
               "latest contact before it, within %(n)d days.") % {"n": effect_window_days()})
    links = selectors.portal_link_figures(scope)
    link_columns = [
        Column("label", _("Given by")), Column("issued", _("Links given"), "int"), Column("opened", _("Opened"), "int"),
        Column("click_through", _("Click-through"), "pct"), Column("click_through_ci", _("95 % interval"), "interval"),
        Column("converted", _("Converted"), "int"), Column("conversion", _("Conversion"), "pct"),
        Column("conversion_ci", _("95 % interval"), "interval"),
    ]
    tables["portal_links"] = Table("portal_links", _("Personal links: click-through and conversion"), link_columns, [
        {"label": r["label"], "issued": r["issued"], "opened": r["opened"], "converted": r["converted"],
         **_pct_cells("click_through", r["click_through"]), **_pct_cells("conversion", r["conversion"])}
        for r in [*links["rows"], *([links["total"]] if len(links["rows"]) > 1 else [])]
    ], note=_("Links given in the period. Click-through: links opened among those given. Conversion: opened links whose case then "
              "had a payment, a promise or a plan on the portal."))
    figures = {"portfolio": portfolio, "refusals": refusals, "channels": channels, "portal_links": links, "rolls": rolls, "recovery": recovery, "promises": promises, "activity": activity,
               "objectives": objectives, "techniques": techniques}
    return tables, figures


def drill_table(cases) -> Table:
    """The drilled case list as an exportable table."""
    return Table("cases", _("Cases"), [
        Column("reference", _("Reference")), Column("debtor", _("Debtor")), Column("creditor", _("Creditor")),
        Column("agent", _("Agent")), Column("status", _("Status")), Column("objective", _("Objective")),
        Column("due_date", _("Due date")), Column("balance", _("Balance"), "money"),
    ], [
        {"reference": c.reference, "debtor": c.debtor.name, "creditor": c.creditor.name,
         "agent": c.assigned_agent.display_name() if c.assigned_agent else "", "status": c.get_status_display(),
         "objective": c.get_objective_display(), "due_date": c.due_date.isoformat(), "balance": c.balance}
        for c in cases
    ])


def _pct(value) -> float | None:
    return round(value * 100, 1) if value is not None else None


def chart_payload(figures: dict) -> dict:
    """Just the numbers Chart.js needs, with translated labels (rendered with json_script)."""
    portfolio, promises, activity = figures["portfolio"], figures["promises"]["total"], figures["activity"]
    roll_buckets = [b for b in BUCKET_LABELS if b != CLOSED and any(r["bucket"] == b for r in figures["rolls"]["series"])]
    months = figures["rolls"]["months"]
    roll_index = {(r["month"], r["bucket"]): r for r in figures["rolls"]["series"]}
    techniques = [r for r in figures["techniques"]["rows"] if figures["techniques"]["cut"] == "technique"][:12]
    return {
        "aging": {
            "labels": [force_str(BUCKET_LABELS[r["bucket"]]) for r in portfolio["aging"]],
            "cases": [r["cases"] for r in portfolio["aging"]],
            "balance": [float(r["balance"]) for r in portfolio["aging"]],
        },
        "recovery": {
            "labels": [date_format(r["month"], "YEAR_MONTH_FORMAT") for r in figures["recovery"]],
            "collected": [float(r["collected"]) for r in figures["recovery"]],
            "placed": [float(r["placed"]) for r in figures["recovery"]],
            "rate": [_pct(r["liquidation_rate"]) for r in figures["recovery"]],
        },
        "promises": {
            "labels": [force_str(PromiseStatus.KEPT.label), force_str(PromiseStatus.PARTIAL.label), force_str(PromiseStatus.BROKEN.label), force_str(PromiseStatus.PENDING.label)],
            "values": [promises["kept"], promises["partial"], promises["broken"], promises["pending"]],
        },
        "activity": {
            "labels": [date_format(r["day"], "j M") for r in activity["days"]],
            "attempts": [r["attempts"] for r in activity["days"]],
            "right_party": [r["right_party"] for r in activity["days"]],
            "promises": [r["promises"] for r in activity["days"]],
        },
        "rolls": {
            "labels": [date_format(add_months(m, 1), "YEAR_MONTH_FORMAT") for m in months],
            "series": [
                {"label": force_str(BUCKET_LABELS[b]), "data": [_pct((roll_index.get((m, b)) or {}).get("roll_rate")) for m in months]}
                for b in roll_buckets
            ],
        },
        "objectives": {
            "labels": [force_str(r["label"]) for r in figures["objectives"]["rows"]],
            "cases": [r["cases"] for r in figures["objectives"]["rows"]],
            "promise_rate": [_pct(r["promise_rate"].rate) for r in figures["objectives"]["rows"]],
        },
        "channels": {
            "labels": [force_str(r["label"]) for r in figures["channels"]["rows"]],
            "collected": [float(r["collected"]) for r in figures["channels"]["rows"]],
            "promises": [r["promises"] for r in figures["channels"]["rows"]],
            "plans": [r["plans"] for r in figures["channels"]["rows"]],
        },
        "refusals": {
            "labels": [force_str(r["label"]) for r in figures["refusals"]["by_reason"]],
            "values": [r["refusals"] for r in figures["refusals"]["by_reason"]],
        },
        "techniques": {
            "labels": [r["technique"] for r in techniques],
            "rate": [_pct(r["promise"].rate) for r in techniques],
            "interval": [[_pct(r["promise"].low), _pct(r["promise"].high)] if r["promise"].n else None for r in techniques],
            "enough": [r["promise"].enough for r in techniques],
            "n": [r["interactions"] for r in techniques],
        },
    }
