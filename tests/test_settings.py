"""The project's configuration, read from the environment: collections_crm/settings.py (it
fails loudly on what it cannot run with, passes Django's deploy checks, chooses the log format)
and gunicorn.conf.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _check(env_extra: dict, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SECRET_KEY", "DJANGO_DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    env.update(env_extra)
    return subprocess.run([sys.executable, "manage.py", "check", *args], cwd=ROOT, env=env, capture_output=True, text=True)


def test_production_without_secret_key_fails_loudly(tmp_path):
    result = _check({"DJANGO_DEBUG": "false", "CRM_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_unsupported_database_fails_loudly(tmp_path):
    result = _check({"DATABASE_URL": "mysql://u:p@localhost/db", "CRM_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "PostgreSQL or SQLite" in result.stderr


def test_deploy_checks_pass_with_production_variables(tmp_path):
    result = _check(
        {
            "DJANGO_DEBUG": "false",
            "SECRET_KEY": "x" * 20 + "-a-long-random-production-secret-value-" + "y" * 20,
            "ALLOWED_HOSTS": "crm.example.com",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "CRM_VAR_DIR": str(tmp_path),
        },
        "--deploy",
        "--fail-level",
        "WARNING",
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_json_logs_in_production_or_on_request(tmp_path):
    """LOG_FORMAT=json (the default when DJANGO_DEBUG=false) makes every record a JSON line."""
    import json

    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_DEBUG", "LOG_FORMAT", "SENTRY_DSN")}
    env.update({"LOG_FORMAT": "json", "CRM_VAR_DIR": str(tmp_path)})
    code = "import django, logging; django.setup(); logging.getLogger('crm.x').warning('sms to %s', '+34612345678')"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**env, "DJANGO_SETTINGS_MODULE": "collections_crm.settings"},
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    [line] = [json.loads(raw) for raw in result.stderr.splitlines() if raw.startswith("{")]
    assert line["message"] == "sms to [phone]" and line["logger"] == "crm.x" and line["level"] == "WARNING"
    result = _check({"LOG_FORMAT": "xml", "CRM_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0 and "LOG_FORMAT" in result.stderr


def test_gunicorn_config_is_valid_and_reads_the_environment(tmp_path):
    import json

    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_DEBUG", "LOG_FORMAT", "PROMETHEUS_MULTIPROC_DIR")}
    env.update({"WEB_CONCURRENCY": "3", "GUNICORN_THREADS": "4", "GUNICORN_TIMEOUT": "90", "TMPDIR": str(tmp_path), "CRM_VAR_DIR": str(tmp_path),
                "DJANGO_DEBUG": "false", "SECRET_KEY": "k" * 60, "SECURE_SSL_REDIRECT": "false"})
    code = (
        "import json, runpy; c = runpy.run_path('gunicorn.conf.py'); "
        "print(json.dumps({k: c[k] for k in ('bind', 'workers', 'threads', 'timeout', 'forwarded_allow_ips', 'logger_class', "
        "'access_log_format')} | {'json': 'logconfig_dict' in c, 'multiproc': __import__('os').environ['PROMETHEUS_MULTIPROC_DIR']}))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    conf = json.loads(result.stdout)
    assert conf["bind"] == "0.0.0.0:8000" and (conf["workers"], conf["threads"], conf["timeout"]) == (3, 4, 90)
    assert conf["forwarded_allow_ips"] == "127.0.0.1,::1" and conf["json"] is True
    assert conf["logger_class"].endswith("RedactingLogger") and "%(q)s" not in conf["access_log_format"]
    assert conf["multiproc"].startswith(str(tmp_path))
    check = subprocess.run([str(Path(sys.executable).parent / "gunicorn"), "--check-config", "-c", "gunicorn.conf.py",
                            "collections_crm.wsgi:application"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


PRODUCTION = {"DJANGO_DEBUG": "false", "SECRET_KEY": "x" * 20 + "-a-long-random-production-secret-value-" + "y" * 20,
              "ALLOWED_HOSTS": "crm.example.com"}


def test_the_sandbox_payment_provider_is_refused_in_production(tmp_path):
    """It posts payments no one made: production must name a real provider (or none)."""
    refused = _check({**PRODUCTION, "CRM_VAR_DIR": str(tmp_path), "CRM_PAYMENT_PROVIDER": "sandbox"})
    assert refused.returncode != 0 and "CRM_PAYMENT_SANDBOX_ALLOWED" in refused.stderr
    staging = _check({**PRODUCTION, "CRM_VAR_DIR": str(tmp_path), "CRM_PAYMENT_PROVIDER": "sandbox", "CRM_PAYMENT_SANDBOX_ALLOWED": "true"})
    assert staging.returncode == 0, staging.stderr
    unknown = _check({**PRODUCTION, "CRM_VAR_DIR": str(tmp_path), "CRM_PAYMENT_PROVIDER": "paypal"})
    assert unknown.returncode != 0 and "CRM_PAYMENT_PROVIDER" in unknown.stderr
