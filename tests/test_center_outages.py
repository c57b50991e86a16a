"""A database that drops a connection is an outage to wait out, never a refusal of the data:
after a PostgreSQL restart a pooled connection fails while a fresh one answers, and the alert
records of that batch must be read again, not dead-lettered."""
from __future__ import annotations

import uuid

import psycopg
import pytest
from conftest import POSTGRES_URL

from center.store import open_store


@pytest.fixture
def postgres():
    schema = f"test_{uuid.uuid4().hex[:12]}"
    store = open_store(POSTGRES_URL, schema=schema)
    yield store
    store.close()
    with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


def failure(store, sql: str) -> Exception:
    with pytest.raises(Exception) as raised:
        with store.transaction() as tx:
            tx.execute(sql).fetchone()
    return raised.value


def test_a_connection_the_server_dropped_is_an_outage(postgres):
    with postgres.transaction() as tx:
        pid = tx.execute("SELECT pg_backend_pid() AS pid").fetchone()["pid"]
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    assert postgres.outage(failure(postgres, "SELECT 1 AS one"))


def test_a_statement_the_database_refuses_is_no_outage(postgres):
    assert not postgres.outage(failure(postgres, "SELECT 1 / 0 AS nothing"))


def test_a_locked_sqlite_ledger_is_an_outage_and_a_bad_statement_is_not(tmp_path):
    import sqlite3

    store = open_store(f"sqlite://{tmp_path / 'center.db'}")
    try:
        assert store.outage(sqlite3.OperationalError("database is locked"))
        assert not store.outage(failure(store, "SELECT * FROM no_such_table"))
    finally:
        store.close()
