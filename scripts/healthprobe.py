"""Container health probe: GET a health URL of the local gunicorn as a client behind the TLS
proxy would (Host from ALLOWED_HOSTS, X-Forwarded-Proto https, so no redirect). Exit 0 on 200."""

import os
import sys
import urllib.request

path = sys.argv[1] if len(sys.argv) > 1 else "/healthz/ready"
port = os.environ.get("PORT", "8000")
host = os.environ.get("ALLOWED_HOSTS", "localhost").split(",")[0].strip().lstrip(".")
if host in ("", "*"):
    host = "localhost"
request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Host": host, "X-Forwarded-Proto": "https"})
try:
    with urllib.request.urlopen(request, timeout=5) as response:
        sys.exit(0 if response.status == 200 else 1)
except Exception as error:  # any failure is unhealthy
    print(f"{path}: {error}", file=sys.stderr)
    sys.exit(1)
