#!/usr/bin/env bash
# Type-check the gated packages with mypy + django-stubs (configuration in pyproject.toml).
# A package joins the gate here once it is clean; see [tool.mypy] for the modules still excluded.
# Usage: scripts/typecheck.sh [mypy options]   (PYTHON overrides the interpreter, .venv's by default)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}

# The ground, the domain and the engine, data protection and the shell.
TARGETS=(
  collections_crm/core
  collections_crm/audit
  collections_crm/accounts
  debtors
  cases
  contacts
  collections_crm/privacy
  collections_crm/selfservice
  collections_crm/portal
  collections_crm/shell
)

# The django-stubs plugin imports the settings: no service is needed, and without DATABASE_URL
# they fall back to SQLite. The cache lives apart from ad-hoc runs' .mypy_cache, whose entries for
# modules checked by name would otherwise report errors this gate leaves out.
exec env -u DATABASE_URL "$PYTHON" -m mypy --cache-dir var/cache/mypy "$@" "${TARGETS[@]}"
