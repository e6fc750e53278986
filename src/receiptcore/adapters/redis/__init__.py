"""Redis adapters (the ``redis`` extra: redis-py asyncio): ``event_bus.RedisEventBus``.

This package module imports nothing, so ``config.RedisConfig`` can be built without the driver; the composition
root imports the driver-backed module only when ``RECEIPTCORE_REDIS_URL`` is set, and turns a missing driver into
a one-line error naming the extra.
"""
