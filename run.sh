#!/usr/bin/env bash
# Install everything, load demo data and run the app with a real Celery worker and beat.
# Embedded default: SQLite under var/, Celery over the local filesystem (no Redis needed).
# Set DATABASE_URL / REDIS_URL to run the same code on PostgreSQL and Redis; HOST and PORT
# (default 127.0.0.1:8000) say where the web app listens; CRM_VAR_DIR (default var/) where the
# database, the broker's folders and the logs go (a second copy needs its own, and its own PORT).
set -euo pipefail
cd "$(dirname "$0")"
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
VAR_DIR=${CRM_VAR_DIR:-var}
LOG_DIR=$VAR_DIR/log
SETUP_LOG=$LOG_DIR/setup.log
mkdir -p "$LOG_DIR"
: > "$SETUP_LOG"
# Where a browser reaches a server that listens on every address.
case "$HOST" in 0.0.0.0 | "::") URL_HOST=127.0.0.1 ;; *) URL_HOST=$HOST ;; esac
# The personal links the worker writes into messages point at this copy of the app.
export CRM_PORTAL_BASE_URL=${CRM_PORTAL_BASE_URL:-http://$URL_HOST:$PORT}

port_busy() { (exec 3<>"/dev/tcp/$URL_HOST/$PORT") 2>/dev/null; }
if port_busy; then
  echo "Port $PORT is already in use (another copy of the app?). Try: PORT=$((PORT + 1)) ./run.sh" >&2
  exit 1
fi

# One line per step; each step's own output goes to $SETUP_LOG and is shown only if it fails.
step() {
  local label=$1
  shift
  printf '%s… ' "$label"
  local started=$SECONDS
  if "$@" >>"$SETUP_LOG" 2>&1; then
    echo "done ($((SECONDS - started)) s)"
  else
    echo "failed. The last lines of $SETUP_LOG:"
    tail -n 20 "$SETUP_LOG" | sed 's/^/    /'
    exit 1
  fi
}

scripts/setup.sh
PY=.venv/bin/python
if [ -z "${DATABASE_URL:-}" ] && [ ! -e "$VAR_DIR/db.sqlite3" ]; then
  step "Creating the database ($VAR_DIR/db.sqlite3)" $PY manage.py migrate --no-input -v0
else
  step "Updating the database" $PY manage.py migrate --no-input -v0
fi
printf 'Loading demo data… '
$PY manage.py seed_demo --quiet --cases "${DEMO_CASES:-300}" 2>>"$SETUP_LOG" | tee -a "$SETUP_LOG" || {
  echo "failed. The last lines of $SETUP_LOG:"; tail -n 20 "$SETUP_LOG" | sed 's/^/    /'; exit 1; }
# The dashboard's figures from the start (later kept up to date by beat every 10 minutes).
step "Building the dashboard's figures" $PY manage.py rebuild_dashboard_facts

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
printf 'Starting worker and beat… '
.venv/bin/celery -A collections_crm worker --loglevel=INFO --concurrency=2 > "$LOG_DIR/worker.log" 2>&1 &
pids+=($!)
# Exactly one beat: it only enqueues; the database holds the schedule.
.venv/bin/celery -A collections_crm beat --loglevel=INFO > "$LOG_DIR/beat.log" 2>&1 &
pids+=($!)
for _ in $(seq 60); do
  grep -q " ready." "$LOG_DIR/worker.log" 2>/dev/null && break
  sleep 0.5
done
if grep -q " ready." "$LOG_DIR/worker.log" 2>/dev/null; then
  echo "done (logs: $LOG_DIR/worker.log, $LOG_DIR/beat.log)"
else
  echo "still starting (see $LOG_DIR/worker.log)"
fi
echo "Starting the web app… (Django's development server; its lines follow, then one per request)"
# The development server's warning is about production, which runs gunicorn (README, Production);
# migrate has just run the system checks.
DJANGO_RUNSERVER_HIDE_WARNING=true $PY manage.py runserver --skip-checks --noreload "$HOST:$PORT" &
pids+=($!)
for _ in $(seq 60); do
  port_busy && break
  sleep 0.5
done
echo
echo "CobroCRM is running at http://$URL_HOST:$PORT/  (Ctrl+C stops the web app, the worker and beat)"
$PY manage.py seed_demo --logins
echo "What to try first, role by role: README.md, \"First ten minutes\"."
echo
wait -n "${pids[@]}"
