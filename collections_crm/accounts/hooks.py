"""What the accounts layer asks of the layers above it (collections_crm.core.hooks)."""

from __future__ import annotations

from collections_crm.core.hooks import Hook

# open_case_count(user=...) -> int: how many open cases are assigned to this user (an agent with
# open cases cannot be deactivated or moved off the agent role). Answered by the case layer
# (cases.selectors.open_case_count_for_agent).
open_case_count = Hook("accounts.open_case_count")
