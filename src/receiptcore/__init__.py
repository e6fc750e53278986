"""receiptcore: a self-hosted receipt vault (hexagonal core, adapters, entrypoints)."""

__version__ = "0.1.0"
