"""The benchmarks, one module per area; importing this package registers them all
(collections_crm.devtools.bench.REGISTRY)."""

from . import adminarea, contacts, desk, imports, portal, reports, shell  # noqa: F401
