"""The ingest's journal: what a 202 promises, kept on disk before the answer goes out.

Every record the ingest (HTTP, MQTT, the demo) is about to publish is first appended here, in a
SQLite database in the data directory committed with `synchronous=FULL` (fsynced: it survives a
`kill -9` and a power cut). The record then travels with a header `ewe-journal: <ingest>:<seq>`,
and a partition runner remembers, per ingest, the highest sequence number its state reflects,
so a record that arrives twice is evaluated once.

A row stays until it is no longer needed: on the embedded broker, which keeps topics in memory
only, until the checkpoints of its partition reflect it (`trim`); on a Kafka cluster, until the
brokers acknowledged it (`trim_sent`). At start, `pending()` gives whatever is still here, in
order, to be published again: after a crash, the events that were acknowledged but never made
it into a checkpoint are evaluated then, once.

>>> import tempfile
>>> journal = Journal(tempfile.mkdtemp())
>>> first, second = journal.append([("ewe.readings", 0, "http", b"[1]"),
...                                 ("ewe.readings", 1, "http", b"[2]")])
>>> [(row.seq, row.value) for row in journal.pending()]
[(1, b'[1]'), (2, b'[2]')]
>>> journal.trim({("ewe.readings", 0): first})
>>> [row.seq for row in journal.pending()], journal.bytes
([2], 3)
"""
from __future__ import annotations

import os
import secrets
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import NamedTuple

__all__ = ["Journal", "JournalRow", "HEADER", "parse_header"]

HEADER = "ewe-journal"


class JournalRow(NamedTuple):
    seq: int
    topic: str
    partition: int
    source: str
    value: bytes


def parse_header(value: bytes | str | None) -> tuple[str, int] | None:
    """(ingest id, sequence number) of a record's journal header; None if it has none."""
    if not value:
        return None
    text = value.decode() if isinstance(value, bytes) else value
    ingest, _, seq = text.rpartition(":")
    return (ingest, int(seq)) if ingest and seq.isdigit() else None


class Journal:
    """`name` tells apart the journals of processes that share a data directory (workers of
    one host): `ewe run` and `ewe worker` name theirs after their HTTP port, so a restarted
    process finds its own."""

    def __init__(self, data_dir: str | os.PathLike[str], name: str = "journal") -> None:
        path = Path(data_dir) / f"{name}.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        self._connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute("PRAGMA synchronous=FULL")   # every commit reaches the disk
        self._connection.execute(
            "CREATE TABLE IF NOT EXISTS records (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
            "topic TEXT NOT NULL, partition INTEGER NOT NULL, source TEXT NOT NULL, "
            "value BLOB NOT NULL)")
        self._connection.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, "
                                 "value TEXT NOT NULL)")
        self._lock = threading.Lock()
        with self._lock:
            row = self._connection.execute(
                "SELECT value FROM meta WHERE name = 'ingest'").fetchone()
            if row is None:
                self.ingest = secrets.token_hex(6)
                self._connection.execute("INSERT INTO meta VALUES ('ingest', ?)", (self.ingest,))
            else:
                self.ingest = row[0]
            self.bytes = self._connection.execute(
                "SELECT coalesce(sum(length(value)), 0) FROM records").fetchone()[0]

    def append(self, records: Iterable[tuple[str, int, str, bytes]]) -> list[int]:
        """Keep (topic, partition, source, value) records, durably; their sequence numbers."""
        records = list(records)
        with self._lock:
            self._connection.execute("BEGIN IMMEDIATE")
            try:
                seqs = [self._connection.execute(
                    "INSERT INTO records (topic, partition, source, value) VALUES (?, ?, ?, ?)",
                    record).lastrowid for record in records]
            except BaseException:
                self._connection.execute("ROLLBACK")
                raise
            self._connection.execute("COMMIT")
            self.bytes += sum(len(record[3]) for record in records)
        return seqs

    def header(self, seq: int) -> tuple[str, bytes]:
        return HEADER, f"{self.ingest}:{seq}".encode()

    def pending(self) -> Iterator[JournalRow]:
        """Every row still kept, oldest first."""
        with self._lock:
            rows = self._connection.execute(
                "SELECT seq, topic, partition, source, value FROM records ORDER BY seq").fetchall()
        return (JournalRow(*row) for row in rows)

    def trim(self, reflected: Mapping[tuple[str, int], int]) -> None:
        """Let go of the rows of each (topic, partition) up to the sequence number that the
        partition's checkpoint reflects."""
        with self._lock:
            for (topic, partition), seq in reflected.items():
                self._forget("topic = ? AND partition = ? AND seq <= ?", (topic, partition, seq))

    def trim_sent(self, seqs: Iterable[int]) -> None:
        """Let go of rows a durable broker has acknowledged."""
        seqs = list(seqs)
        with self._lock:
            for start in range(0, len(seqs), 500):
                chunk = seqs[start:start + 500]
                self._forget(f"seq IN ({', '.join('?' * len(chunk))})", chunk)

    def _forget(self, where: str, params: Iterable) -> None:
        params = list(params)
        freed = self._connection.execute(
            f"SELECT coalesce(sum(length(value)), 0) FROM records WHERE {where}",
            params).fetchone()[0]
        if freed:
            self._connection.execute(f"DELETE FROM records WHERE {where}", params)
            self.bytes -= freed

    def close(self) -> None:
        with self._lock:
            self._connection.close()
