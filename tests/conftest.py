"""Fixtures shared by the streaming tests."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.pack import Pack
from streams.broker import EmbeddedBroker


@pytest.fixture(scope="session")
def broker():
    """The embedded broker, started once; every test works on topics of its own prefix."""
    with EmbeddedBroker() as running:
        yield running


@pytest.fixture(scope="session")
def shipped_pack() -> Pack:
    return Pack.load([Path(__file__).resolve().parent.parent / "rules"])
