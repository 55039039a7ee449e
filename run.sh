#!/usr/bin/env bash
# Install everything, load demo data and run the app with a real Celery worker and beat.
# Embedded default: SQLite under var/, Celery over the local filesystem (no Redis needed).
# Set DATABASE_URL / REDIS_URL to run the same code on PostgreSQL and Redis.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
PY=.venv/bin/python
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
$PY manage.py migrate --no-input -v0
$PY manage.py seed_demo --cases "${DEMO_CASES:-300}"
# The dashboard's figures from the start (later kept up to date by beat every 10 minutes).
$PY manage.py rebuild_dashboard_facts

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
mkdir -p var/log
.venv/bin/celery -A collections_crm worker --loglevel=INFO --concurrency=2 > var/log/worker.log 2>&1 &
pids+=($!)
# Exactly one beat: it only enqueues; the database holds the schedule.
.venv/bin/celery -A collections_crm beat --loglevel=INFO > var/log/beat.log 2>&1 &
pids+=($!)
echo
echo "CobroCRM is running at http://$HOST:$PORT/  (worker and beat logs in var/log/; Ctrl+C stops everything)"
echo
$PY manage.py runserver "$HOST:$PORT" --noreload &
pids+=($!)
wait -n "${pids[@]}"
