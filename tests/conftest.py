"""Fixtures shared by several test packages, and the header lines that say which servers the suites ran on."""

from __future__ import annotations

pytest_plugins = ["tests.support.mongo_fixtures"]


def pytest_report_header() -> list[str]:
    from tests.support.mongo_fixtures import mongo_header

    return [mongo_header()]
