"""PostgreSQL adapters (the ``postgres`` extra: asyncpg): ``PostgresUserRepo`` with its versioned migrations
and transactional outbox (``outbox.OutboxRelay``), over one pool (``database.PostgresDatabase``).

This package module imports nothing, so ``config.PostgresConfig`` can be built without the driver; the
composition root imports the driver-backed modules only when ``RECEIPTCORE_POSTGRES_URL`` is set, and turns a
missing driver into a one-line error naming the extra.
"""
