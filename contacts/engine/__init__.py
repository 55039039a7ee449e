"""The follow-up engine: which objective each case pursues, what its next step is, when that step
may happen, and the automatic steps carried out.

One module per concern:

- ``planner``: the pure planner (facts + strategy + now → objective, reason and next step). No ORM.
- ``policy``: the pure contact policy (may we contact now, and if not, when?). No ORM.
- ``contact_policy``: the policy wired to the database (jurisdiction packs, contact histories,
  refusals recorded).
- ``strategy``: the admin-edited strategy as plain data, and its per-process cache.
- ``facts``: the planner's inputs for a batch of cases, in a fixed number of queries.
- ``planning``: the one planning write path (``followups_plan``), and the portfolio replan.
- ``writes``: the planner's bulk writes (COPY / bulk_create, the cases' plan fields).
- ``sweeper``: claims and leases of due automatic steps, and the forgotten-case safety net.
- ``execution``: executing claimed steps (into the outbox), agents completing tasks.
- ``promises``: broken promises, missed instalments, defaulted plans.

The names below are the engine's interface for the rest of the app (tasks, commands, the admin
area, tests); the modules import one another directly.
"""

from .execution import followup_complete, followups_execute
from .facts import facts_gather
from .planning import LIVE, PlanStats, cases_plan, followups_plan, followups_plan_portfolio
from .promises import promises_sweep
from .strategy import packs_cached, strategy_cached, strategy_invalidate, strategy_load
from .sweeper import cases_replan_forgotten, claim_lease, followups_claim_due, followups_reclaim_stale

__all__ = [
    "LIVE", "PlanStats", "cases_plan", "cases_replan_forgotten", "claim_lease", "facts_gather", "followup_complete",
    "followups_claim_due",
    "followups_execute", "followups_plan", "followups_plan_portfolio", "followups_reclaim_stale", "packs_cached",
    "promises_sweep", "strategy_cached", "strategy_invalidate", "strategy_load",
]
