"""Settings for the collections CRM, read once from the environment.

With no variables set the app runs on an embedded default: a SQLite file under var/, a Celery
broker on the local filesystem (no Redis), a local-memory cache and the console e-mail backend.
Production sets DATABASE_URL, REDIS_URL (or CELERY_BROKER_URL), SECRET_KEY, ALLOWED_HOSTS and the
e-mail variables. Bad values fail at start-up, never later.
"""

from __future__ import annotations

from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("CRM_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()

DEBUG = env.bool("DJANGO_DEBUG", default=True)

_DEV_SECRET = "dev-only-insecure-key-never-use-in-production-0123456789abcdef"
SECRET_KEY = env.str("SECRET_KEY", default=_DEV_SECRET if DEBUG else "")
if not DEBUG and (not SECRET_KEY or SECRET_KEY == _DEV_SECRET or len(SECRET_KEY) < 50):
    raise ImproperlyConfigured("SECRET_KEY must be set to a random value of 50+ characters when DJANGO_DEBUG is false.")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_htmx",
    "axes",
    "health_check",
    "csp",
    "collections_crm.accounts",
    "collections_crm.audit",
    "collections_crm.core",
    "debtors",
    "cases",
    "contacts",
    "collections_crm.desk",
    "collections_crm.privacy",
    "collections_crm.selfservice",
    "collections_crm.portal",
    "collections_crm.reports",
    "collections_crm.adminarea",
    "collections_crm.api",
    "collections_crm.imports",
    "collections_crm.observability",
    "collections_crm.shell",
    # Demo data, data generator and benchmarks (seed_demo, bench): nothing in production imports it.
    "collections_crm.devtools",
]

MIDDLEWARE = [
    # First: times everything below it (collections_crm.observability).
    "collections_crm.observability.middleware.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Request id and log context (request, user, case).
    "collections_crm.observability.middleware.RequestContextMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Deny by default: every view needs a login unless marked @login_not_required.
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    # Axes last: it turns a locked-out login into a 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "collections_crm.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "collections_crm.shell.context_processors.navigation",
            ],
        },
    },
]

WSGI_APPLICATION = "collections_crm.wsgi.application"

# --- Database -------------------------------------------------------------------------------
VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat write at once in the embedded mode: WAL lets readers run beside the
    # writer, IMMEDIATE transactions take the write lock up front (no upgrade deadlocks), and the
    # timeout makes a writer wait instead of failing with "database is locked".
    _db.setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        }
    )
elif _db["ENGINE"] in ("django.db.backends.postgresql", "django.db.backends.postgresql_psycopg2"):
    _db["ENGINE"] = "django.db.backends.postgresql"
    _db.setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
    _db["CONN_HEALTH_CHECKS"] = True
    # PostgreSQL's JIT compiles any query whose estimate passes jit_above_cost: ~1 s of compile
    # for a page query that runs in 100 ms (measured on the queue search). Off for the app's
    # connections unless DB_JIT=true; long batch jobs may turn it on for their own transaction.
    if not env.bool("DB_JIT", default=False):
        _db.setdefault("OPTIONS", {})["options"] = "-c jit=off"
else:
    raise ImproperlyConfigured(f"DATABASE_URL must point to PostgreSQL or SQLite, not {_db['ENGINE']}.")
if env.str("TEST_DATABASE_NAME", default=""):
    _db["TEST"] = {"NAME": env.str("TEST_DATABASE_NAME")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# --- Cache ----------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if env.str("CACHE_URL", default=""):
    CACHES = {"default": env.cache_url("CACHE_URL")}
elif REDIS_URL:
    # Fails soft (collections_crm.core.cache): with Redis away pages and API keep answering,
    # uncached. Short timeouts, so an unreachable server costs a fraction of a second, not 20 s.
    CACHES = {
        "default": {
            "BACKEND": "collections_crm.core.cache.FailSoftRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 1.0},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    _broker_dir = VAR_DIR / "broker"
    for sub in ("out", "processed", "control"):
        (_broker_dir / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    # A task not acknowledged within this time is delivered again; it must exceed the longest
    # task's hard time limit so that a slow task is never run twice at once.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "socket_connect_timeout": 2}
# A web request that enqueues while the broker is away must not hang: one quick try, then the
# task is kept in the database (collections_crm.core.enqueue) and relayed when the broker is back.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# One queue name per deployment (and per test worker, so that concurrent runs sharing a broker
# never take each other's tasks).
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Beat writes its own heartbeat row (health check), besides enqueuing.
CELERY_BEAT_SCHEDULER = "collections_crm.core.beat:HeartbeatScheduler"
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE: dict = {
    "heartbeat": {"task": "core.heartbeat", "schedule": 60.0},
    # Tasks that could not be enqueued while the broker was away, sent again.
    "deferred-tasks-relay": {"task": "core.relay_deferred_tasks", "schedule": 60.0},
    # Dashboard facts: redo the recent days and catch up missed ones (idempotent).
    "reports-rebuild-facts": {"task": "reports.rebuild_facts", "schedule": env.float("REPORTS_REBUILD_SECONDS", default=600.0)},
    # Follow-up engine: the database holds the schedule; this tick claims what is due.
    "followups-tick": {"task": "contacts.tick", "schedule": env.float("CRM_TICK_SECONDS", default=60.0)},
    "print-batches": {"task": "contacts.render_print_batches", "schedule": 3600.0},
    # Imports whose worker died (no heartbeat within the lease): queued again, or failed.
    "imports-sweep": {"task": "imports.sweep", "schedule": env.float("CRM_IMPORT_SWEEP_SECONDS", default=60.0)},
    "imports-watch-folders": {"task": "imports.watch_folders", "schedule": env.float("CRM_IMPORT_FOLDER_POLL_SECONDS", default=60.0)},
    # GDPR: anonymise the debtors whose retention period has passed (a bounded batch per run).
    "debtors-anonymise-expired": {"task": "debtors.anonymise_expired",
                                  "schedule": env.float("CRM_ANONYMISE_SWEEP_SECONDS", default=3600.0)},
}

# --- Health checks (collections_crm.core.health) ----------------------------------------------
# The worker's heartbeat task runs every minute and beat writes its own every 30 s.
HEALTH_HEARTBEAT_MAX_AGE = env.int("HEALTH_HEARTBEAT_MAX_AGE", default=180)
HEALTH_DISK_MIN_FREE_MB = env.int("HEALTH_DISK_MIN_FREE_MB", default=500)

# --- E-mail ---------------------------------------------------------------------------------
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="cobros@example.com")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Auth and security ----------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Login lockouts (collections_crm.accounts.lockout): a username is locked for one address after
# AXES_FAILURE_LIMIT failures, so a guesser cannot lock its owner out from the owner's own
# address; an address is locked for every username after AXES_IP_FAILURE_LIMIT failures (one
# address spraying a password over many accounts), higher because an office may share one NAT
# address. Both count within the cool-off.
AXES_HANDLER = "collections_crm.accounts.lockout.AxesHandler"
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_IP_FAILURE_LIMIT = env.int("AXES_IP_FAILURE_LIMIT", default=30)
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True  # forgets that username's failures from that address only
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# The client address for lockouts and reset limits: REMOTE_ADDR, or, behind this many proxies
# that append to X-Forwarded-For, the address the outermost one saw (never a client-written
# entry). django-ipware is not installed, so axes' AXES_IPWARE_* settings would do nothing.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "collections_crm.accounts.lockout.client_ip"
if AXES_IP_FAILURE_LIMIT < AXES_FAILURE_LIMIT or TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("AXES_IP_FAILURE_LIMIT must be at least AXES_FAILURE_LIMIT; TRUSTED_PROXY_COUNT at least 0.")
# Reset links expire after this many seconds; reset e-mails are limited per client address and per
# e-mail address, each to this many an hour (collections_crm.accounts.password_reset).
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=60 * 60)
PASSWORD_RESET_MAX_PER_ADDRESS = env.int("PASSWORD_RESET_MAX_PER_ADDRESS", default=5)
PASSWORD_RESET_MAX_PER_EMAIL = env.int("PASSWORD_RESET_MAX_PER_EMAIL", default=5)

# Inactivity expiry: every request renews the session; 30 idle minutes end it.
SESSION_COOKIE_AGE = env.int("SESSION_IDLE_SECONDS", default=30 * 60)
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# Content-Security-Policy on every response: scripts, styles, fonts and images only from our own
# static files (no inline script, handler or style attribute anywhere; data: for Bootstrap's SVG
# icons), no framing, no plugins, forms post only to us.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # Probes of a load balancer or the container reach these over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^healthz"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# --- Internationalisation -------------------------------------------------------------------
LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="es")
LANGUAGES = [("es", _("Spanish")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Madrid")
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": env.str(
            "STATICFILES_STORAGE",
            default="django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage",
        )
    },
}
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns about a missing folder
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
WHITENOISE_USE_FINDERS = DEBUG

# --- Forms ----------------------------------------------------------------------------------
CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- REST framework -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    # Per API token and per browser user, a fixed window counted atomically in the cache
    # (collections_crm.api.throttles); requests pass when the cache is down.
    "DEFAULT_THROTTLE_RATES": {
        "api_token": env.str("API_TOKEN_RATE", default="600/min"),
        "api_session": env.str("API_SESSION_RATE", default="300/min"),
    },
}
for _rate in REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"].values():
    _number, _, _period = _rate.partition("/")
    if not _number.isdigit() or _period not in {"s", "sec", "second", "m", "min", "minute", "h", "hour", "d", "day"}:
        raise ImproperlyConfigured(f"API_TOKEN_RATE and API_SESSION_RATE look like 600/min, not {_rate!r}.")
SPECTACULAR_SETTINGS = {
    "TITLE": "Collections CRM API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from drf-spectacular-sidecar's static files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "CaseStatusEnum": "cases.choices.CaseStatus",
        "PromiseStatusEnum": "cases.choices.PromiseStatus",
        "PlanStatusEnum": "cases.choices.PlanStatus",
        "InstalmentStatusEnum": "cases.choices.InstalmentStatus",
        "DebtorKindEnum": "debtors.models.DebtorKind",
        "ContactPointKindEnum": "debtors.models.ContactPointKind",
        "CreditorKindEnum": "cases.models.CreditorKind",
        "ImportKindEnum": "collections_crm.imports.models.ImportKind",
        "LanguageEnum": [("es", "Español"), ("en", "English")],
        "ChannelEnum": "cases.choices.Channel",
        # What an API client may log: every channel but the portal (cases.choices.Channel.outreach_choices).
        "OutreachChannelEnum": "cases.choices.OUTREACH_CHANNELS",
    },
}

# --- Logging --------------------------------------------------------------------------------
# No PII: every handler masks e-mails, phones, identity documents and IBANs, in messages, extra
# fields and tracebacks (collections_crm.core.logging). JSON lines in production (LOG_FORMAT, by
# default json when DJANGO_DEBUG is false), each with the request id, user id and case id, or the
# Celery task's id and name (collections_crm.observability.context).
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="plain" if DEBUG else "json").lower()
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be 'plain' or 'json', not {LOG_FORMAT!r}.")
# One line per request from the app (method, route name, status, duration; no path or query).
LOG_REQUESTS = env.bool("LOG_REQUESTS", default=not DEBUG)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "context": {"()": "collections_crm.observability.context.LogContextFilter"},
        "redact_pii": {"()": "collections_crm.core.logging.RedactPIIFilter"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "collections_crm.core.logging.JsonFormatter"},
        "django.server": {"()": "django.utils.log.ServerFormatter", "format": "[{server_time}] {message}", "style": "{"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["context", "redact_pii"]},
        # runserver's request lines carry query strings: masked like everything else.
        "django.server": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT if LOG_FORMAT == "json" else "django.server",
            "filters": ["context", "redact_pii"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own console and mail_admins handlers print unmasked records (mail_admins
        # with the request's data): records go to the root handler only.
        "django": {"handlers": [], "level": LOG_LEVEL, "propagate": True},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "INFO"},
        "axes": {"level": "WARNING"},
        # A failing check is reported by the health URL itself; one traceback per probe every
        # few seconds would flood an outage's logs.
        "health_check": {"level": "ERROR"},
    },
}
# Celery workers keep this configuration instead of installing their own root handler.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Observability (collections_crm.observability) ------------------------------------------
# Sentry: off without a DSN; no personal data is sent (see collections_crm.observability.sentry).
SENTRY_DSN = env.str("SENTRY_DSN", default="")
SENTRY_ENVIRONMENT = env.str("SENTRY_ENVIRONMENT", default="development" if DEBUG else "production")
SENTRY_RELEASE = env.str("SENTRY_RELEASE", default="")
SENTRY_TRACES_SAMPLE_RATE = env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0)
if not 0.0 <= SENTRY_TRACES_SAMPLE_RATE <= 1.0:
    raise ImproperlyConfigured("SENTRY_TRACES_SAMPLE_RATE must be between 0 and 1.")
if SENTRY_DSN:
    from collections_crm.observability.sentry import sentry_init

    sentry_init(dsn=SENTRY_DSN, environment=SENTRY_ENVIRONMENT, release=SENTRY_RELEASE, traces_sample_rate=SENTRY_TRACES_SAMPLE_RATE)
# /metrics (Prometheus): "Authorization: Bearer <METRICS_TOKEN>", or a logged-in admin; 404 else.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
if METRICS_TOKEN and len(METRICS_TOKEN) < 16:
    raise ImproperlyConfigured("METRICS_TOKEN must be at least 16 characters long.")
# A scrape's database queries are cancelled past this (PostgreSQL); counts per status are the
# planner's estimates on tables above METRICS_EXACT_COUNT_MAX_ROWS rows.
METRICS_DB_TIMEOUT_MS = env.int("METRICS_DB_TIMEOUT_MS", default=2000)
METRICS_EXACT_COUNT_MAX_ROWS = env.int("METRICS_EXACT_COUNT_MAX_ROWS", default=1_000_000)
if not DEBUG:
    # Prometheus scrapes over the private network in plain HTTP, like the health probes.
    SECURE_REDIRECT_EXEMPT = [*vars().get("SECURE_REDIRECT_EXEMPT", []), r"^metrics$"]

# --- Product settings -----------------------------------------------------------------------
CRM_DEFAULT_CURRENCY = env.str("CRM_DEFAULT_CURRENCY", default="EUR")
CRM_NOTES_MAX_LENGTH = 4000
CRM_PAGE_SIZE = env.int("CRM_PAGE_SIZE", default=25)
# Dashboard: an interaction "led to" a promise or money when it followed within this many days.
REPORTS_EFFECT_WINDOW_DAYS = env.int("REPORTS_EFFECT_WINDOW_DAYS", default=14)
# The periodic rebuild reads rows above its id marks, and re-reads up to this many ids below them
# that were written in the 5 minutes before its last run (a transaction may commit after a later
# one was read).
REPORTS_REBUILD_ID_OVERLAP = env.int("REPORTS_REBUILD_ID_OVERLAP", default=1000)
REPORTS_BULK_REASSIGN_MAX = env.int("REPORTS_BULK_REASSIGN_MAX", default=2000)
# Portfolio and payment files: refused above these sizes with a clear message.
CRM_IMPORT_MAX_BYTES = env.int("CRM_IMPORT_MAX_BYTES", default=300 * 1024 * 1024)
CRM_IMPORT_MAX_ROWS = env.int("CRM_IMPORT_MAX_ROWS", default=2_000_000)
# A running import beats every quarter of this lease (a thread of the worker, and each chunk of
# progress); when no beat came for a whole lease its worker is taken for dead and the sweeper
# queues the job again (staging is rebuilt, the apply step is one transaction), up to
# CRM_IMPORT_MAX_ATTEMPTS runs in all, then marks it failed.
CRM_IMPORT_LEASE_SECONDS = env.int("CRM_IMPORT_LEASE_SECONDS", default=120)
CRM_IMPORT_MAX_ATTEMPTS = env.int("CRM_IMPORT_MAX_ATTEMPTS", default=3)
# A file dropped in a watched folder is taken once it has not changed for this long (an SFTP
# upload still being written is left alone).
CRM_IMPORT_FOLDER_SETTLE_SECONDS = env.int("CRM_IMPORT_FOLDER_SETTLE_SECONDS", default=30)
# Watched folders must lie inside this folder (the SFTP server's drop area): an admin cannot
# point the workers at any other part of the server's disk.
CRM_IMPORT_FOLDER_ROOT = Path(env.str("CRM_IMPORT_FOLDER_ROOT", default=str(VAR_DIR / "dropbox")))
# Follow-up engine: a claimed follow-up or message is handed out again after this lease; it must
# exceed CELERY_TASK_TIME_LIMIT so a slow task is never run twice at once.
CRM_CLAIM_LEASE_SECONDS = env.int("CRM_CLAIM_LEASE_SECONDS", default=CELERY_TASK_TIME_LIMIT + 60)
CRM_SMS_BACKEND = env.str("CRM_SMS_BACKEND", default="contacts.messaging.sms.FileSMSBackend")
CRM_SMS_FILE_PATH = env.str("CRM_SMS_FILE_PATH", default=str(VAR_DIR / "sms"))
CRM_COMPANY_NAME = env.str("CRM_COMPANY_NAME", default="CobroCRM")
# Self-service portal (collections_crm.portal). The address debtors reach it at, written into
# every personal link a message or letter carries.
CRM_PORTAL_BASE_URL = env.str("CRM_PORTAL_BASE_URL", default="http://localhost:8000").rstrip("/")
# Files debtors upload (disputes, documents): outside the web root, served only to staff.
CRM_PRIVATE_MEDIA_ROOT = Path(env.str("CRM_PRIVATE_MEDIA_ROOT", default=str(VAR_DIR / "private")))
# The online payment provider: "sandbox" (a local checkout page, the default in development, for
# the demo and tests), "stripe" or "redsys"; empty: no online payment (the portal's other actions
# remain). Each confirms a payment only by its signed callback. In production the sandbox would let
# a debtor settle a debt without paying: it must be asked for by name (a staging site).
CRM_PAYMENT_PROVIDER = env.str("CRM_PAYMENT_PROVIDER", default="sandbox" if DEBUG else "")
if CRM_PAYMENT_PROVIDER not in ("", "sandbox", "stripe", "redsys"):
    raise ImproperlyConfigured(f"CRM_PAYMENT_PROVIDER must be sandbox, stripe, redsys or empty, not {CRM_PAYMENT_PROVIDER!r}.")
if CRM_PAYMENT_PROVIDER == "sandbox" and not DEBUG and not env.bool("CRM_PAYMENT_SANDBOX_ALLOWED", default=False):
    raise ImproperlyConfigured("The sandbox payment provider posts payments no one made: with DJANGO_DEBUG=false set "
                               "CRM_PAYMENT_PROVIDER to stripe or redsys, or CRM_PAYMENT_SANDBOX_ALLOWED=true on a staging site.")
# The sandbox signs its callbacks as a real provider would, with this secret (derived from
# SECRET_KEY unless set).
CRM_SANDBOX_SECRET = env.str("CRM_SANDBOX_SECRET", default="")
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
# Redsys (TPV Virtual): merchant code (FUC), terminal, the SHA-256 secret key, and the test or
# live environment.
REDSYS_MERCHANT_CODE = env.str("REDSYS_MERCHANT_CODE", default="")
REDSYS_TERMINAL = env.str("REDSYS_TERMINAL", default="1")
REDSYS_SECRET_KEY = env.str("REDSYS_SECRET_KEY", default="")
REDSYS_ENVIRONMENT = env.str("REDSYS_ENVIRONMENT", default="test")
