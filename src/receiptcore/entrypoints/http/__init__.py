"""The Litestar HTTP entrypoints: the auth service, the receipt API, or both in one app (``create_app``)."""
