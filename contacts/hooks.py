"""What the engine asks of the layers above it (collections_crm.core.hooks)."""

from __future__ import annotations

from collections_crm.core.hooks import Hook

# portal_link(case_id=..., source=..., now=...) -> (url, code): a new personal link to the case's
# self-service page, for the message being written (inside its transaction). Answered by
# collections_crm.selfservice.links.link_for_message.
portal_link = Hook("contacts.portal_link")
