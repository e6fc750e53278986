"""``harness``: the MongoDB store of tests/support/mongo_fixtures.py under the parameter id ``mongo:server`` or
``mongo:emulated``, so each adapter test's name says whether a real server or the in-process stand-in ran it."""

from __future__ import annotations

from typing import cast

import pytest

from tests.support.mongo_fixtures import MONGO_ID, MongoHarness


@pytest.fixture(params=[pytest.param("mongo_harness", id=MONGO_ID, marks=pytest.mark.xdist_group("mongo"))])
def harness(request: pytest.FixtureRequest) -> MongoHarness:
    return cast(MongoHarness, request.getfixturevalue(request.param))
