"""Fixtures for the auth, user and role use cases."""

from __future__ import annotations

import pytest

from tests.unit.auth.support import World, make_world


@pytest.fixture
def world() -> World:
    """A fresh set of services over memory adapters and a manual clock."""
    return make_world()
