"""Partition checkpoints in the data directory: the evaluator's state and the input offsets it
reflects, written together so that a restart resumes exactly where the state was taken.

A checkpoint belongs to the cluster its offsets were read from. On another cluster (the embedded
broker keeps topics in memory, so every `ewe run` starts a new one) the offsets mean nothing, but
the state still does: rules and detectors go on where they stopped, and input starts afresh.

>>> import tempfile
>>> store = CheckpointStore(tempfile.mkdtemp())
>>> store.save(Checkpoint(partition=3, cluster="c1", offsets={"ewe.readings": 120}, state=b"s"))
76
>>> store.load(3)
Checkpoint(partition=3, cluster='c1', offsets={'ewe.readings': 120}, state=b's', journal={})
>>> store.load(4) is None
True
"""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

import orjson

__all__ = ["Checkpoint", "CheckpointStore"]


@dataclass
class Checkpoint:
    partition: int
    cluster: str
    offsets: dict[str, int] = field(default_factory=dict)   # topic -> next offset to read
    state: bytes = b""
    journal: dict[str, int] = field(default_factory=dict)   # "ingest:topic" -> last entry


class CheckpointStore:
    """One file per partition, replaced atomically (write, fsync, rename). Written in two steps
    so that the writing may happen in another process and the rename only once the caller
    knows the checkpoint may stand."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def path(self, partition: int) -> Path:
        """Where the partition's checkpoint is."""
        return self.directory / f"partition-{partition}.ckpt"

    def save(self, checkpoint: Checkpoint) -> int:
        """Write the checkpoint and put it in place; returns its size in bytes."""
        temporary = self.write(checkpoint)
        size = temporary.stat().st_size
        self.commit(checkpoint.partition, temporary)
        return size

    def write(self, checkpoint: Checkpoint) -> Path:
        """Write the checkpoint beside its place, durably; `commit` puts it in place."""
        header = orjson.dumps({"partition": checkpoint.partition, "cluster": checkpoint.cluster,
                               "offsets": checkpoint.offsets, "journal": checkpoint.journal})
        temporary = self.write_path(checkpoint.partition, os.getpid())
        with open(temporary, "wb") as out:
            out.write(header + b"\n")
            out.write(checkpoint.state)
            out.flush()
            os.fsync(out.fileno())
        return temporary

    def write_path(self, partition: int, writer: int) -> Path:
        """Where process `writer` of this host writes the partition's next checkpoint: workers
        of several hosts (containers, whose processes share pids) share the directory."""
        return self.path(partition).with_suffix(f".{socket.gethostname()}.{writer}.tmp")

    def commit(self, partition: int, temporary: Path) -> None:
        os.replace(temporary, self.path(partition))
        # The rename itself must survive a power cut, not only the file's contents.
        directory = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def load(self, partition: int) -> Checkpoint | None:
        try:
            data = self.path(partition).read_bytes()
        except FileNotFoundError:
            return None
        header, _, state = data.partition(b"\n")
        meta = orjson.loads(header)
        return Checkpoint(meta["partition"], meta["cluster"], meta["offsets"], state,
                          meta.get("journal", {}))
