"""The pure domain: pydantic models, value objects and rules. Imports nothing outside the standard library,
pydantic and ``receiptcore.errors``."""
