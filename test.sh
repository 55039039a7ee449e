#!/usr/bin/env bash
# Run the whole test suite. SQLite by default; set DATABASE_URL for PostgreSQL (CI does).
# Browser tests need Debian's chromium (/usr/bin/chromium); Celery tests need a Redis server
# (CRM_TEST_REDIS_URL, default redis://127.0.0.1:6379/15). CI sets CRM_REQUIRE_SERVICES=1 so a
# missing service fails the run instead of skipping those tests.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
exec .venv/bin/pytest "$@"
