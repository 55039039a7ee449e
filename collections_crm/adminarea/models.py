"""The admin area owns no models: the playbooks it edits live in contacts.models, the plan
guardrails in cases.models, strategy rules, cadences and contact policies in contacts.models."""
