"""The Faust app of a worker, with what ewe changes in Faust's consumer.

- The fetch wait: Faust hard-codes 1.5 s, which would be the floor of every alert's latency.
- The assignor: Faust's own, which keeps the input topics co-partitioned (partition n of every
  input topic goes to the same worker, whose runner n evaluates all of its areas).
- The seek after a rebalance: Faust seeks to the group's committed offsets, which may be past
  the checkpoint a restored partition resumes from; ewe seeks again to its checkpoints
  (`App.seek_to_checkpoints`, set by the worker).
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka

__all__ = ["App", "FETCH_WAIT_MS"]

FETCH_WAIT_MS = 10


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport):
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_WAIT_MS
        # Faust's own assignor keeps readings and reports co-partitioned: partition n of both
        # topics goes to the same worker, whose runner n evaluates both kinds of its areas.
        consumer._partition_assignment_strategy = [self.app.assignor]
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self):
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def perform_seek(self) -> None:
        """After a rebalance Faust seeks every partition to the group's committed offset, which
        may be past the checkpoint a restored partition resumes from: the records between
        would never be evaluated. Seek, afterwards, to where the checkpoints say."""
        await super().perform_seek()
        await self.app.seek_to_checkpoints()


class _Transport(faust_aiokafka.Transport):
    Consumer = _Consumer


class App(faust.App):
    def _new_transport(self):
        return _Transport(self.conf.broker_consumer, self)



    seek_to_checkpoints: Callable[[], Awaitable[None]]
