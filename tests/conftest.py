"""Fixtures shared by the tests: the embedded broker, the shipped pack, ledger stores, a clock."""
from __future__ import annotations

import uuid
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


POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path):
    """A migrated, empty ledger store: a SQLite file, or a fresh schema on the real PostgreSQL."""
    from center.store import open_store

    if request.param == "sqlite":
        opened = open_store(f"sqlite://{tmp_path / 'center.db'}")
        yield opened
        opened.close()
        return
    import psycopg

    schema = f"test_{uuid.uuid4().hex[:12]}"
    opened = open_store(POSTGRES_URL, schema=schema)
    yield opened
    opened.close()
    with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


class FakeClock:
    """Milliseconds that move only when a test moves them."""

    def __init__(self, now: int = 1_782_864_000_000) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

    def advance(self, ms: int) -> None:
        self.now += ms


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
