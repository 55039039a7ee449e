"""gunicorn's access log without personal data: searches and API filters carry document
numbers, phones and names in their query strings, so every query value is written as
``[redacted]`` (keys kept) — in the request line, the query atom, the Referer and the environ
atoms alike, whatever ``access_log_format`` asks for. Each line also carries its fields as
extras, which the JSON formatter of gunicorn.conf.py writes as JSON keys.

Used by gunicorn.conf.py as ``logger_class``.
"""

from __future__ import annotations

from gunicorn.glogging import Logger

from collections_crm.core.logging import mask_query_string, mask_url, redact


class RedactingLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        query = mask_query_string(environ.get("QUERY_STRING", ""))
        path = environ.get("RAW_URI", "").split("?", 1)[0] or environ.get("PATH_INFO", "")
        request_line = f"{environ.get('REQUEST_METHOD')} {redact(path)}{'?' + query if query else ''} {environ.get('SERVER_PROTOCOL')}"
        atoms.update({"r": request_line, "q": query, "U": redact(environ.get("PATH_INFO") or "")})
        for key in list(atoms):
            if key in ("f", "{referer}i", "{http_referer}e"):
                atoms[key] = mask_url(atoms[key])
            elif key == "{query_string}e":
                atoms[key] = query
            elif key == "{raw_uri}e":
                atoms[key] = request_line.split(" ")[1]
        return atoms

    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        atoms = self.atoms(resp, req, environ, request_time)
        try:
            status = int(atoms["s"])
        except (TypeError, ValueError):
            status = None
        extra = {
            "remote_addr": atoms["h"],
            "http_method": atoms["m"],
            "path": atoms["U"],
            "query": atoms["q"] or None,
            "status_code": status,
            "response_bytes": atoms["B"],
            "duration_ms": atoms["M"],
            "referer": atoms["f"] if atoms["f"] != "-" else None,
            "user_agent": atoms["a"],
            "request_id": atoms.get("{x-request-id}o"),
        }
        try:
            self.access_log.info(self.cfg.access_log_format, self.atoms_wrapper_class(atoms), extra=extra)
        except Exception:
            self.exception("access log line failed")
