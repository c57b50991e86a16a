"""Checkpoints of a worker's partitions: each runner's state with the input offsets and journal
entries it reflects, written without stopping the stream for long, put in place only once every
alert of that state is kept where it outlives a crash (see `streams.checkpoint` for the files)."""
from __future__ import annotations

import asyncio
import logging
import os
import time
from contextlib import AsyncExitStack

from streams.checkpoint import CheckpointStore

__all__ = ["Checkpointing"]

log = logging.getLogger("ewe.worker")


class Checkpointing:
    """(A part of `Worker`.)"""

    async def checkpoint(self, partition: int) -> None:
        async with self.locks[partition]:
            began = time.perf_counter()
            checkpoint = self.runners[partition].checkpoint(self.cluster_id)
            self.metrics.checkpoint_seconds.observe(time.perf_counter() - began)
        # Every alert of the state being saved must be on the broker before the state is.
        await self.app.producer.flush()
        if not await self._alerts_kept():
            return
        size = await asyncio.to_thread(self.store.save, checkpoint)
        self.metrics.checkpoints.inc()
        self.metrics.checkpoint_bytes.labels(str(partition)).set(size)
        await self._trim_journal({partition: checkpoint.journal})

    async def checkpoint_all(self) -> None:
        """Checkpoint every partition without stopping the stream for long: with every runner
        between two records, the process forks; the child writes the state it was born with
        while the parent goes on. The checkpoints are put in place once the child is done and
        the alerts of that state are on the broker."""
        partitions = sorted(self.runners)
        if not partitions:
            return
        async with AsyncExitStack() as stack:
            for partition in partitions:
                await stack.enter_async_context(self.locks[partition])
            began = time.perf_counter()
            journals = {partition: dict(self.runners[partition].journal)
                        for partition in partitions}
            child = os.fork()
            if child == 0:
                _write_and_exit(self.store, [self.runners[partition].checkpoint(self.cluster_id)
                                             for partition in partitions])
            self.metrics.checkpoint_seconds.observe(time.perf_counter() - began)
        await self.app.producer.flush()
        _, status = await asyncio.to_thread(os.waitpid, child, 0)
        if status != 0:
            log.error("checkpoint writer failed (status %d); the previous checkpoints stand",
                      status)
            return
        if not await self._alerts_kept():
            for partition in partitions:
                self.store.write_path(partition, child).unlink(missing_ok=True)
            return
        for partition in partitions:
            temporary = self.store.write_path(partition, child)
            self.metrics.checkpoint_bytes.labels(str(partition)).set(temporary.stat().st_size)
            self.store.commit(partition, temporary)
        self.metrics.checkpoints.inc(len(partitions))
        await self._trim_journal(journals)

    async def _trim_journal(self, journals: dict[int, dict[str, int]]) -> None:
        """The journal rows that committed checkpoints reflect are needed no more."""
        if self.journal is None:
            return
        reflected = {}
        for partition, entries in journals.items():
            for entry, seq in entries.items():
                ingest, _, topic = entry.partition(":")
                if ingest == self.journal.ingest:
                    reflected[topic, partition] = seq
        if reflected:
            await asyncio.to_thread(self.journal.trim, reflected)

    async def _alerts_kept(self) -> bool:
        """Whether every alert sent so far is recorded where it outlives a crash: on the
        embedded broker, topics live in memory, so in the ledger; a cluster keeps them."""
        if self.alerts_recorded is None:
            return True
        if await self.alerts_recorded(dict(self.alert_offsets)):
            return True
        log.warning("checkpoint postponed: the center has not recorded the latest alerts")
        return False


def _write_and_exit(store: CheckpointStore, checkpoints: list) -> None:
    """The forked checkpoint writer: touches nothing but the state it inherited and its files."""
    try:
        for checkpoint in checkpoints:
            store.write(checkpoint)
    except BaseException:
        os._exit(1)
    os._exit(0)
