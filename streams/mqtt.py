"""The MQTT bridge: subscribe to topic patterns on an MQTT broker and ingest every payload (one
JSON event or an array of them) like an HTTP POST. It reconnects until the worker stops.

Nothing in flight is lost: the bridge keeps a persistent session (a stable client id, no clean
session) and subscribes at QoS 1, and acknowledges a message to the MQTT broker only once the
ingest has it in its journal. A message the bridge took but had not acknowledged when the
process died is delivered again by the broker.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
from pathlib import Path
from urllib.parse import urlsplit

import aiomqtt
import mode

from streams.ingest import Ingest, IngestBusy, IngestUnavailable
from streams.settings import Settings

__all__ = ["MqttBridge"]

log = logging.getLogger("ewe.mqtt")

RECONNECT_S = 2.0


class MqttBridge(mode.Service):
    def __init__(self, settings: Settings, ingest: Ingest, **kwargs) -> None:
        url = urlsplit(settings.mqtt if "://" in settings.mqtt else f"mqtt://{settings.mqtt}")
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 1883
        self.username, self.password = url.username, url.password
        self.patterns = settings.mqtt_topics
        # Stable per data directory: the broker keeps the session's unacknowledged messages.
        self.client_id = settings.mqtt_client_id or "ewe-" + hashlib.sha256(
            str(Path(settings.data_dir).resolve()).encode()).hexdigest()[:12]
        self.ingest = ingest
        self.connected = False
        super().__init__(**kwargs)

    @mode.Service.task
    async def _bridge(self) -> None:
        while not self.should_stop:
            try:
                async with aiomqtt.Client(self.host, self.port, username=self.username,
                                          password=self.password, identifier=self.client_id,
                                          clean_session=False) as client:
                    # aiomqtt has no manual acknowledgement of its own yet (its issue #345);
                    # paho-mqtt's underneath has.
                    client._client.manual_ack_set(True)
                    for pattern in self.patterns:
                        await client.subscribe(pattern, qos=1)
                    self.connected = True
                    log.info("MQTT bridge subscribed to %s on %s:%d", self.patterns, self.host,
                             self.port)
                    async for message in client.messages:
                        await self._ingest(bytes(message.payload))
                        if message.qos > 0:
                            client._client.ack(message.mid, message.qos)
            except aiomqtt.MqttError as error:
                self.connected = False
                log.warning("MQTT %s:%d: %s; reconnecting in %.0f s", self.host, self.port,
                            error, RECONNECT_S)
                await self.sleep(RECONNECT_S)

    async def _ingest(self, payload: bytes) -> None:
        """Hand a message to the ingest, waiting while the service is behind or its broker
        away: the message is not acknowledged meanwhile, so nothing is lost."""
        while True:
            try:
                await self.ingest.submit(payload, "mqtt")
                return
            except (IngestBusy, IngestUnavailable) as error:
                log.warning("MQTT message held back: %s", error)
                await asyncio.sleep(RECONNECT_S)
