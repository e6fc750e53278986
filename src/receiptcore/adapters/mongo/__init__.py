"""MongoDB adapters (the ``mongo`` extra: PyMongo's ``AsyncMongoClient``): ``MongoReceiptStore`` (receipts in a
collection, original files in GridFS) over one ``connection.MongoConnection``, and ``MongoReceiptStats``.

This package module imports nothing, so ``config.MongoConfig`` can be built without the driver; the composition
root imports the driver-backed modules only when ``RECEIPTCORE_MONGO_URL`` is set, and turns a missing driver into
a one-line error naming the extra.
"""
