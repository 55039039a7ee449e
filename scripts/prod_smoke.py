"""What production builds and serves, checked on this machine (CI runs it; no Docker needed).

1. collectstatic with the production storage (hashed, compressed: the Dockerfile's build step);
2. migrate, then gunicorn with gunicorn.conf.py and DJANGO_DEBUG=false, as the image runs it;
3. through it, as a client behind the TLS proxy: the login page (with its security headers),
   a hashed static file served by whitenoise (far-future cache, gzip), the health probes, the
   HTTPS redirect for plain HTTP;
4. docker-compose.yml validated by ``docker-compose config`` when the tool is installed.

Usage: .venv/bin/python scripts/prod_smoke.py [DATABASE_URL]   (default: a SQLite file)
Exit status 0 when everything holds; the first failure is printed.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "crm.example.com"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def fetch(port: int, path: str, *, https: bool = True, headers: dict | None = None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Host": HOST, **(headers or {})})
    if https:
        request.add_header("X-Forwarded-Proto", "https")
    try:
        response = OPENER.open(request, timeout=10)
    except urllib.error.HTTPError as error:
        response = error
    return response.status, dict(response.headers), response.read()


def check(condition: bool, what: str) -> None:
    if not condition:
        sys.exit(f"prod smoke: FAILED: {what}")
    print(f"  ok: {what}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    python = sys.executable
    work = Path(tempfile.mkdtemp(prefix="crm-smoke-"))
    env = {
        **os.environ,
        "DJANGO_DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": HOST,
        "CSRF_TRUSTED_ORIGINS": f"https://{HOST}",
        "CRM_VAR_DIR": str(work / "var"),
        "STATIC_ROOT": str(work / "static"),
        "DATABASE_URL": sys.argv[1] if len(sys.argv) > 1 else f"sqlite:///{work / 'db.sqlite3'}",
    }
    env.pop("REDIS_URL", None)  # the embedded cache and broker: the web must serve without Redis
    port = free_port()
    env["PORT"] = str(port)
    server = None
    try:
        print("== collectstatic (production storage)")
        subprocess.run([python, "manage.py", "collectstatic", "--no-input", "-v0"], cwd=ROOT, env=env, check=True)
        manifest = work / "static" / "staticfiles.json"
        check(manifest.exists(), "the manifest of hashed static files was written")
        print("== migrate")
        subprocess.run([python, "manage.py", "migrate", "--no-input", "-v0"], cwd=ROOT, env=env, check=True)
        print(f"== gunicorn -c gunicorn.conf.py on 127.0.0.1:{port}")
        gunicorn = str(Path(python).with_name("gunicorn"))
        server = subprocess.Popen([gunicorn, "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}", "--workers", "2",
                                   "collections_crm.wsgi:application"], cwd=ROOT, env=env)
        deadline = time.monotonic() + 60
        while True:
            try:
                if fetch(port, "/healthz/live")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                sys.exit("prod smoke: FAILED: gunicorn did not answer within 60 s")
            time.sleep(0.3)

        status, headers, body = fetch(port, "/accounts/login/")
        check(status == 200, f"login page answers 200 (got {status})")
        check("Content-Security-Policy" in headers and "script-src 'self'" in headers["Content-Security-Policy"],
              "Content-Security-Policy header on the page")
        check("max-age=" in headers.get("Strict-Transport-Security", ""), "HSTS header on the page")
        check(headers.get("X-Frame-Options") == "DENY", "X-Frame-Options: DENY")
        match = re.search(rb'href="(/static/css/app\.[0-9a-f]{12}\.css)"', body)
        check(match is not None, "the page links the hashed stylesheet")
        css = match.group(1).decode()
        status, headers, body = fetch(port, css, headers={"Accept-Encoding": "gzip"})
        check(status == 200, f"{css} is served by whitenoise (got {status})")
        check("max-age=315360000" in headers.get("Cache-Control", ""), "hashed static file cached for ever")
        check(headers.get("Content-Encoding") == "gzip", "static file served compressed")
        status, _, _ = fetch(port, "/static/vendor/chartjs/chart.umd.min.js")
        check(status == 200, "vendored Chart.js served")

        status, headers, _ = fetch(port, "/accounts/login/", https=False)
        check(status == 301 and headers.get("Location", "").startswith("https://"), "plain HTTP is redirected to HTTPS")
        status, _, _ = fetch(port, "/healthz/live", https=False)
        check(status == 200, "liveness answers over plain HTTP (exempt from the redirect)")
        status, _, body = fetch(port, "/healthz/ready")
        check(status == 200, f"readiness: database reachable and migrated ({body[:200]!r})")
        probe = subprocess.run([python, "scripts/healthprobe.py", "/healthz/ready"], cwd=ROOT, env=env)
        check(probe.returncode == 0, "the container's health probe passes")

        compose = shutil.which("docker-compose")
        if compose:
            compose_env = {**os.environ, "SECRET_KEY": "x" * 50, "POSTGRES_PASSWORD": "p", "CRM_OWNER_DB_PASSWORD": "o",
                           "CRM_APP_DB_PASSWORD": "a"}
            result = subprocess.run([compose, "config", "-q"], cwd=ROOT, env=compose_env)
            check(result.returncode == 0, "docker-compose.yml is valid (docker-compose config)")
        else:
            print("  skipped: docker-compose is not installed")
    finally:
        if server and server.poll() is None:
            server.terminate()
            server.wait(timeout=20)
        shutil.rmtree(work, ignore_errors=True)
    print("prod smoke: all checks passed")


if __name__ == "__main__":
    main()
