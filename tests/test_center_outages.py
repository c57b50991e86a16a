"""A database that drops a connection is an outage to wait out, never a refusal of the data:
after a PostgreSQL restart a pooled connection fails while a fresh one answers, and the alert
records of that batch must be read again, not dead-lettered."""
from __future__ import annotations

import psycopg
import pytest
from conftest import POSTGRES_URL

from center.store import open_store

on_postgres = pytest.mark.parametrize("store", ["postgres"], indirect=True)


def failure(store, sql: str) -> Exception:
    with pytest.raises(Exception) as raised:
        with store.transaction() as tx:
            tx.execute(sql).fetchone()
    return raised.value


@on_postgres
def test_a_connection_the_server_dropped_is_an_outage(store):
    with store.transaction() as tx:
        pid = tx.execute("SELECT pg_backend_pid() AS pid").fetchone()["pid"]
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    assert store.outage(failure(store, "SELECT 1 AS one"))


@on_postgres
def test_a_statement_the_database_refuses_is_no_outage(store):
    assert not store.outage(failure(store, "SELECT 1 / 0 AS nothing"))


def test_a_locked_sqlite_ledger_is_an_outage_and_a_bad_statement_is_not(tmp_path):
    import sqlite3

    store = open_store(f"sqlite://{tmp_path / 'center.db'}")
    try:
        assert store.outage(sqlite3.OperationalError("database is locked"))
        assert not store.outage(failure(store, "SELECT * FROM no_such_table"))
    finally:
        store.close()
