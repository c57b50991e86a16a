"""The live feed: every ledger change, fanned out to server-sent-event subscribers.

The ledger calls `publish` from whichever thread wrote the change; each subscriber has a bounded
queue on the event loop, and one that falls too far behind is dropped (it reconnects and reloads
the list) rather than slowing the ledger down. Items carry no reporter contact details.

Every message has an id (`<epoch>.<n>`, the epoch telling this process's feed from another's).
The feed keeps its latest messages (4 MiB of them): a board that reconnects with the id it saw
last (`Last-Event-ID`) is sent what it missed; one whose id is gone, or from another process,
gets a `reset` event, telling it to load the list again. A subscriber for an area (a scoped
token's) gets the changes of that area's alerts only.
"""
from __future__ import annotations

import asyncio
import secrets
from collections import deque
from collections.abc import AsyncIterator

import msgspec

__all__ = ["Feed"]

_QUEUE_ITEMS = 1000
_RECENT_BYTES = 4 * 1024 * 1024
_KEEPALIVE_SECONDS = 15.0
_RESET = b"event: reset\ndata: {}\n\n"


class _Area(msgspec.Struct):
    district: str | None = None
    street: str | None = None
    community: str | None = None


class _Alert(msgspec.Struct):
    location: _Area = msgspec.field(default_factory=_Area)


class _Change(msgspec.Struct):
    type: str
    alert: _Alert = msgspec.field(default_factory=_Alert)


_CHANGE = msgspec.json.Decoder(_Change)   # the type of a change and its alert's area, no more


class Feed:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._subscribers: set[asyncio.Queue] = set()
        self._epoch = secrets.token_hex(4)
        self._sequence = 0
        self._recent: deque[tuple[int, bytes, _Area]] = deque()
        self._recent_bytes = 0

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def publish(self, payload: bytes) -> None:
        """A committed ledger change, as the JSON the store carried (sent on as it is)."""
        loop = self._loop
        if loop is None:          # no board ever connected: none can have missed anything
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
        change = _CHANGE.decode(payload)
        message = b"id: %s.%d\nevent: %s\ndata: %s\n\n" % (
            self._epoch.encode(), self._sequence, change.type.encode(), payload)
        item = (self._sequence, message, change.alert.location)
        self._recent.append(item)
        self._recent_bytes += len(message)
        while self._recent_bytes > _RECENT_BYTES:
            self._recent_bytes -= len(self._recent.popleft()[1])
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(item)
            except asyncio.QueueFull:
                self._subscribers.discard(queue)

    def _missed(self, last_event_id: str) -> list[tuple[int, bytes, _Area]] | None:
        """The messages after `last_event_id`, or None when they are not all kept."""
        epoch, _, number = last_event_id.partition(".")
        if epoch != self._epoch or not number.isdigit():
            return None
        seen = int(number)
        if self._recent and seen < self._recent[0][0] - 1 or seen > self._sequence:
            return None
        return [item for item in self._recent if item[0] > seen]

    async def stream(self, last_event_id: str | None = None,
                     scope: tuple[str, str] | None = None) -> AsyncIterator[bytes]:
        """Server-sent events until the client goes away (after what it missed, when it says
        what it saw last), of the changes in `scope`'s area if given; a comment line keeps
        proxies open."""
        def shown(area: _Area) -> bool:
            return scope is None or getattr(area, scope[0]) == scope[1]

        self._loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue(_QUEUE_ITEMS)
        self._subscribers.add(queue)     # before the backlog is read: nothing falls between
        try:
            yield b": connected\n\n"
            sent = self._sequence
            if last_event_id:
                missed = self._missed(last_event_id)
                if missed is None:
                    yield _RESET
                else:
                    for sequence, message, area in missed:
                        if shown(area):
                            yield message
                        sent = sequence
            while True:
                try:
                    sequence, message, area = await asyncio.wait_for(queue.get(),
                                                                     _KEEPALIVE_SECONDS)
                except TimeoutError:
                    yield b": keepalive\n\n"
                    continue
                if queue not in self._subscribers:
                    return
                if sequence > sent:
                    sent = sequence
                    if shown(area):
                        yield message
        finally:
            self._subscribers.discard(queue)
