#!/usr/bin/env bash
# Create .venv and install the pinned requirements (only when they changed). One line per step;
# pip itself stays quiet (its full output goes to ${CRM_VAR_DIR:-var}/log/setup.log).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
log_dir=${CRM_VAR_DIR:-var}/log
mkdir -p "$log_dir"
log=$log_dir/setup.log
if [ ! -x .venv/bin/python ]; then
  echo "Creating the Python environment (.venv, $("$PYTHON" --version 2>&1))…"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.requirements.sha
want=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "Installing Python packages… (the first time takes a few minutes)"
  export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
  if ! { .venv/bin/pip install -q --upgrade pip && .venv/bin/pip install -q -r requirements-dev.txt; } >>"$log" 2>&1; then
    echo "Installing the Python packages failed. The last lines of $log:" >&2
    tail -n 20 "$log" | sed 's/^/    /' >&2
    exit 1
  fi
  echo "$want" > "$stamp"
else
  echo "Python packages: already installed."
fi
