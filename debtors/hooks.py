"""What the debtor layer asks of the layers above it (collections_crm.core.hooks)."""

from __future__ import annotations

from collections_crm.core.hooks import Hook

# debtor_cases_replan(debtor_id=..., now=..., actor=...) -> int: a change the engine reads (a
# flag that pauses contact, the time zone, the country) re-plans the debtor's open cases inside
# the caller's transaction; returns how many. Answered by the case layer
# (cases.services.debtor_open_cases_replan).
debtor_cases_replan = Hook("debtors.debtor_cases_replan")
