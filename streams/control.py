"""Publishing to the workers: a rule pack on the rules topic."""
from __future__ import annotations

import hashlib

import orjson
from aiokafka import AIOKafkaProducer

__all__ = ["push_pack"]


async def push_pack(broker: str, topic: str, texts: dict[str, str], at_ms: int) -> str:
    """Publish validated rule files; returns the pack's version (a digest of its files).
    Every worker switches to it when its partitions' event time reaches `at_ms`."""
    digest = hashlib.blake2b(orjson.dumps(texts, option=orjson.OPT_SORT_KEYS), digest_size=6)
    version = digest.hexdigest()
    producer = AIOKafkaProducer(bootstrap_servers=broker.removeprefix("kafka://"),
                                max_request_size=16 * 1024 * 1024)
    await producer.start()
    try:
        await producer.send_and_wait(topic, orjson.dumps(
            {"version": version, "at": at_ms, "files": texts}), key=b"pack", partition=0)
    finally:
        await producer.stop()
    return version
