"""Data protection (GDPR): the right of access (export) and erasure after retention, over every
record held about a debtor. Above the engine, since those records live in all the domain apps."""
