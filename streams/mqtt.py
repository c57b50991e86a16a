"""The MQTT bridge: subscribe to topic patterns on an MQTT broker and ingest every payload (one
JSON event or an array of them) like an HTTP POST. It reconnects until the worker stops."""
from __future__ import annotations

import logging
from urllib.parse import urlsplit

import aiomqtt
import mode

from streams.ingest import Ingest
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
        self.ingest = ingest
        self.connected = False
        super().__init__(**kwargs)

    @mode.Service.task
    async def _bridge(self) -> None:
        while not self.should_stop:
            try:
                async with aiomqtt.Client(self.host, self.port, username=self.username,
                                          password=self.password) as client:
                    for pattern in self.patterns:
                        await client.subscribe(pattern, qos=1)
                    self.connected = True
                    log.info("MQTT bridge subscribed to %s on %s:%d", self.patterns, self.host,
                             self.port)
                    async for message in client.messages:
                        await self.ingest.submit(bytes(message.payload), "mqtt")
            except aiomqtt.MqttError as error:
                self.connected = False
                log.warning("MQTT %s:%d: %s; reconnecting in %.0f s", self.host, self.port,
                            error, RECONNECT_S)
                await self.sleep(RECONNECT_S)
