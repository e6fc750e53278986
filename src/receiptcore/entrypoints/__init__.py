"""Entrypoints: HTTP services, CLI, the web client, and the composition root (container)."""
