"""Where the ledger lives: SQLite (embedded default, one file) or PostgreSQL (production).

Both speak the same SQL through one narrow interface, `Store.transaction()`, which yields a
cursor whose `execute` takes `?` placeholders and returns rows as dicts. The dialects differ only
in connection handling, the placeholder and the auto-numbered key, so the ledger's SQL is written
once and tested against both real databases.

>>> from center.migrations import MIGRATIONS
>>> store = open_store("sqlite://:memory:")
>>> with store.transaction() as tx:
...     rows = tx.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
>>> [row["version"] for row in rows] == [migration.version for migration in MIGRATIONS]
True
"""
from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from center.migrations import MIGRATIONS

__all__ = ["Store", "SqliteStore", "PostgresStore", "open_store", "redacted", "Cursor",
           "StoreError"]


class StoreError(RuntimeError):
    """The store cannot be opened or migrated."""


class Cursor(Protocol):
    def execute(self, sql: str, params: tuple | list = ()) -> Cursor: ...
    def executemany(self, sql: str, params: list[tuple | list]) -> None: ...
    def fetchone(self) -> dict[str, Any] | None: ...
    def fetchall(self) -> list[dict[str, Any]]: ...
    rowcount: int


log = logging.getLogger("ewe.center")

Listener = Callable[[bytes], None]


class Store:
    """Also the channel of ledger changes for the live feed: `notify` after a commit reaches
    every `listen`er of the same ledger, in this process (SQLite) or in every process that
    shares the database (PostgreSQL), so each replica's feed shows every replica's changes."""

    dialect: str
    url: str

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    @property
    def listened(self) -> bool:
        return bool(self._listeners)

    # Where the dialects differ in what the ledger asks for (SQLite has one writer anyway).
    for_update = ""    # appended to a SELECT of rows about to be written

    def lock_keys(self, tx: Cursor, keys: list[str]) -> None:
        """Hold a lock per key until the transaction ends, taken in key order."""

    def try_lock(self, tx: Cursor, lock: int) -> bool:
        """Take a lock until the transaction ends if no other transaction holds it."""
        return True

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def notify(self, payloads: list[bytes]) -> None:
        self._deliver(payloads)

    def _deliver(self, payloads: list[bytes]) -> None:
        for payload in payloads:
            for listener in self._listeners:
                listener(payload)

    def migrate(self) -> list[int]:
        """Apply the migrations this database has not seen, in order; their versions."""
        applied = []
        with self.transaction() as tx:
            self._lock_for_migration(tx)
            tx.execute("CREATE TABLE IF NOT EXISTS schema_migrations ("
                       "version INTEGER PRIMARY KEY, name TEXT NOT NULL)")
            done = {row["version"] for row in
                    tx.execute("SELECT version FROM schema_migrations").fetchall()}
            known = MIGRATIONS[-1].version
            if done and max(done) > known:
                # An older ewe would write rows the newer schema does not expect.
                raise StoreError(
                    f"the ledger's schema is at version {max(done)}, newer than this ewe knows "
                    f"({known}): run the ewe that migrated it, or restore the backup taken "
                    "before the upgrade")
            for migration in MIGRATIONS:
                if migration.version in done:
                    continue
                for statement in migration.statements(self.dialect):
                    tx.execute(statement)
                tx.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                           (migration.version, migration.name))
                applied.append(migration.version)
        return applied

    def version(self) -> int:
        """The schema version the ledger is at."""
        with self.transaction() as tx:
            row = tx.execute("SELECT max(version) AS version FROM schema_migrations").fetchone()
        return row["version"]

    def outage(self, error: BaseException) -> bool:
        """Whether `error` says the database was unreachable or busy (try again), not that it
        refused what was asked."""
        return False

    def _lock_for_migration(self, tx: Cursor) -> None:
        """Serialise replicas that start together (SQLite's file lock already does)."""


class _SqliteCursor:
    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    def execute(self, sql: str, params: tuple | list = ()) -> _SqliteCursor:
        self._cursor.execute(sql, params)
        return self

    def executemany(self, sql: str, params: list[tuple | list]) -> None:
        self._cursor.executemany(sql, params)

    def fetchone(self) -> dict[str, Any] | None:
        row = self._cursor.fetchone()
        return dict(row) if row is not None else None

    def fetchall(self) -> list[dict[str, Any]]:
        return [dict(row) for row in self._cursor.fetchall()]

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount


class SqliteStore(Store):
    """One connection behind a lock: SQLite serialises writers anyway, and one process owns it."""

    dialect = "sqlite"

    def __init__(self, path: str) -> None:
        super().__init__()
        self.url = f"sqlite://{path}"
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._connection.row_factory = sqlite3.Row
        self._connection.execute("PRAGMA journal_mode=WAL")
        # Fsynced like the journal: a checkpoint stands on alerts the ledger says it recorded.
        self._connection.execute("PRAGMA synchronous=FULL")
        self._lock = threading.Lock()

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        with self._lock:
            cursor = self._connection.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield _SqliteCursor(cursor)
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            cursor.execute("COMMIT")

    def outage(self, error: BaseException) -> bool:
        return isinstance(error, sqlite3.OperationalError) and any(
            words in str(error) for words in ("locked", "disk I/O", "unable to open"))

    def backup(self, path: str | Path) -> None:
        """A consistent copy of the whole ledger in a new file, taken while ewe writes to it
        (SQLite's online backup: writers go on meanwhile)."""
        target = sqlite3.connect(path)
        try:
            with self._lock:
                self._connection.backup(target)
        finally:
            target.close()

    def close(self) -> None:
        self._connection.close()


class _PostgresCursor:
    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def execute(self, sql: str, params: tuple | list = ()) -> _PostgresCursor:
        self._cursor.execute(_postgres(sql), params)
        return self

    def executemany(self, sql: str, params: list[tuple | list]) -> None:
        # psycopg pipelines the statements: one round trip for the lot, not one each.
        self._cursor.executemany(_postgres(sql), params)

    def fetchone(self) -> dict[str, Any] | None:
        return self._cursor.fetchone()

    def fetchall(self) -> list[dict[str, Any]]:
        return self._cursor.fetchall()

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount


def _postgres(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


# PostgreSQL refuses a notification payload of 8000 bytes or more.
_NOTIFY_LIMIT = 7_900


class PostgresStore(Store):
    """A connection pool; `schema` puts the ledger in its own schema (created if missing)."""

    dialect = "postgres"
    for_update = " FOR UPDATE"

    def __init__(self, url: str, *, schema: str | None = None, max_size: int = 20) -> None:
        import psycopg
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool

        super().__init__()
        self.url = url
        self.schema = schema
        # Notifications are per database: the channel names the schema of this ledger.
        self.channel = f"ewe_feed_{schema or 'public'}"[:63]
        self._listening: threading.Thread | None = None
        self._closing = threading.Event()
        options = {"options": f"-c search_path={schema}"} if schema else {}
        self._connect = lambda: psycopg.connect(url, autocommit=True, **options)
        if schema:
            try:
                with psycopg.connect(url, autocommit=True) as connection:
                    connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            except psycopg.Error as error:
                raise StoreError(f"cannot open {redacted(url)}: {error}") from None
        self._pool = ConnectionPool(url, min_size=1, max_size=max_size, open=False,
                                    kwargs={"row_factory": dict_row, **options})
        try:
            self._pool.open(wait=True, timeout=10)
        except Exception as error:  # psycopg_pool raises PoolTimeout with the cause inside
            self._pool.close()
            raise StoreError(f"cannot open {redacted(url)}: {error}") from None

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        with self._pool.connection() as connection, connection.transaction(), \
                connection.cursor() as cursor:
            yield _PostgresCursor(cursor)

    def outage(self, error: BaseException) -> bool:
        # A connection the server dropped (a restart), a pool out of connections, a deadlock
        # or a serialisation failure: none of them says anything about the data.
        import psycopg

        return isinstance(error, (psycopg.OperationalError, psycopg.InterfaceError))

    def _lock_for_migration(self, tx: Cursor) -> None:
        tx.execute("SELECT pg_advisory_xact_lock(7406)")  # any constant shared by replicas

    def lock_keys(self, tx: Cursor, keys: list[str]) -> None:
        # In key order, so that two transactions taking overlapping keys cannot deadlock.
        tx.execute("SELECT pg_advisory_xact_lock(hashtextextended(key, 0)) FROM "
                   "unnest(?::text[]) WITH ORDINALITY AS keys(key, n) ORDER BY n",
                   (sorted(keys),))

    def try_lock(self, tx: Cursor, lock: int) -> bool:
        return tx.execute("SELECT pg_try_advisory_xact_lock(?) AS mine",
                          (lock,)).fetchone()["mine"]

    def notify(self, payloads: list[bytes]) -> None:
        shared = [payload for payload in payloads if len(payload) < _NOTIFY_LIMIT]
        if len(shared) < len(payloads):
            log.warning("a feed item over %d bytes reaches this process's feed only",
                        _NOTIFY_LIMIT)
            self._deliver([payload for payload in payloads if len(payload) >= _NOTIFY_LIMIT])
        if shared:
            with self.transaction() as tx:
                tx.executemany("SELECT pg_notify(?, ?)",
                               [(self.channel, payload.decode()) for payload in shared])

    def listen(self, listener: Listener) -> None:
        super().listen(listener)
        if self._listening is None:
            ready = threading.Event()
            self._listening = threading.Thread(target=self._listen, args=(ready,), daemon=True,
                                               name="ewe-feed-listen")
            self._listening.start()
            ready.wait(10)

    def _listen(self, ready: threading.Event) -> None:
        """Hand every notification on the channel to the listeners, until the store closes;
        a lost connection is opened again (what was notified meanwhile is not seen)."""
        while not self._closing.is_set():
            try:
                with self._connect() as connection:
                    connection.execute(f'LISTEN "{self.channel}"')
                    ready.set()
                    while not self._closing.is_set():
                        for notice in connection.notifies(timeout=0.5):
                            self._deliver([notice.payload.encode()])
            except Exception as error:   # the database went away: try again shortly
                ready.set()
                log.warning("live feed: lost the notification connection (%s)", error)
                self._closing.wait(2.0)

    def close(self) -> None:
        self._closing.set()    # the listening thread sees it within half a second and ends
        self._pool.close()


def redacted(url: str) -> str:
    """The URL without its password, for error messages and logs."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    return f"{scheme}{sep}{credentials.split(':', 1)[0]}:***@{host}"


def open_store(url: str, **options: Any) -> Store:
    """`sqlite:///abs/path.db`, `sqlite://relative.db`, `sqlite://:memory:` or
    `postgresql://user@host/db`; migrated to the current schema."""
    if url.startswith("sqlite://"):
        store: Store = SqliteStore(url.removeprefix("sqlite://"))
    elif url.startswith(("postgresql://", "postgres://")):
        store = PostgresStore(url, **options)
    else:
        raise StoreError(f"unknown store {url!r}: use sqlite://PATH or postgresql://…")
    store.migrate()
    return store
