"""The live feed: every ledger change, fanned out to server-sent-event subscribers.

The ledger calls `publish` from whichever thread wrote the change; each subscriber has a bounded
queue on the event loop, and one that falls too far behind is dropped (it reconnects and reloads
the list) rather than slowing the ledger down. Items carry no reporter contact details.
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import msgspec

__all__ = ["Feed"]

_QUEUE_ITEMS = 1000


class _Kind(msgspec.Struct):
    type: str


_KIND = msgspec.json.Decoder(_Kind)   # reads the type of a change, nothing else
_KEEPALIVE_SECONDS = 15.0


class Feed:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._subscribers: set[asyncio.Queue] = set()
        self._sequence = 0

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def publish(self, payload: bytes) -> None:
        """A committed ledger change, as the JSON the store carried (sent on as it is)."""
        loop = self._loop
        if loop is None or not self._subscribers:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._deliver(payload)
            return
        try:
            loop.call_soon_threadsafe(self._deliver, payload)
        except RuntimeError:   # the loop has closed: nobody is listening any more
            self._subscribers.clear()

    def _deliver(self, payload: bytes) -> None:
        self._sequence += 1
        kind = _KIND.decode(payload).type.encode()
        message = b"id: %d\nevent: %s\ndata: %s\n\n" % (self._sequence, kind, payload)
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:
                self._subscribers.discard(queue)

    async def stream(self) -> AsyncIterator[bytes]:
        """Server-sent events until the client goes away; a comment line keeps proxies open."""
        self._loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue(_QUEUE_ITEMS)
        self._subscribers.add(queue)
        try:
            yield b": connected\n\n"
            while True:
                try:
                    message = await asyncio.wait_for(queue.get(), _KEEPALIVE_SECONDS)
                except TimeoutError:
                    yield b": keepalive\n\n"
                    continue
                if queue not in self._subscribers:
                    return
                yield message
        finally:
            self._subscribers.discard(queue)
