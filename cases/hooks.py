"""What the case layer asks of the layers above it (collections_crm.core.hooks)."""

from __future__ import annotations

from collections_crm.core.hooks import Hook

# plan_cases(case_ids=[...], now=..., actor=...) -> {case_id: plan}: re-plan these cases inside
# the caller's transaction. Answered by the follow-up engine (contacts.engine.planning.cases_plan).
plan_cases = Hook("cases.plan_cases")
