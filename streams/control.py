"""The rules record: a pack pushed to every worker on the rules topic, signed.

Whoever can write to the rules topic could otherwise replace every rule of the city; a worker
applies only a record signed (HMAC-SHA256) with the cluster's rules key, which `ewe run` keeps in
its data directory and a cluster gives every worker and rule author as `EWE_RULES_KEY`.

>>> record = rules_record({"a.yaml": "rules: []"}, 1782864000000, b"k")
>>> read_rules_record(record, b"k")[0], read_rules_record(record, b"k")[2]
(1782864000000, 'b32f1bb94b48')
>>> read_rules_record(record, b"another key")
Traceback (most recent call last):
...
ValueError: not signed with this cluster's rules key
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path

import msgspec
import orjson
from aiokafka import AIOKafkaProducer

from engine.messages import RulesRecord, decode_rules_record, encode
from engine.pack import Pack

__all__ = ["push_pack", "rules_record", "read_rules_record", "rules_key_file"]

KEY_FILE = "rules.key"


def _signed_part(files: dict[str, str], at_ms: int, version: str) -> bytes:
    return orjson.dumps({"at": at_ms, "files": files, "version": version},
                        option=orjson.OPT_SORT_KEYS)


def rules_record(texts: dict[str, str], at_ms: int, key: bytes) -> bytes:
    """The record of validated rule files that workers apply from event time `at_ms`."""
    version = hashlib.blake2b(orjson.dumps(texts, option=orjson.OPT_SORT_KEYS),
                              digest_size=6).hexdigest()
    signature = hmac.new(key, _signed_part(texts, at_ms, version), hashlib.sha256).hexdigest()
    return encode(RulesRecord(version=version, at=at_ms, files=texts, signature=signature))


def read_rules_record(value: bytes, key: bytes | None) -> tuple[int, Pack, str]:
    """(switch time, pack, version) of a rules record; `ValueError` for a malformed or
    unsigned record, `RuleFileError` for an invalid pack."""
    try:
        record = decode_rules_record(value)
    except msgspec.DecodeError as error:
        raise ValueError(f"not a rules record: {error}") from None
    files, at, version, signature = record.files, record.at, record.version, record.signature
    if key is None:
        raise ValueError("this worker has no rules key (EWE_RULES_KEY): it applies no pack "
                         "pushed to it")
    expected = hmac.new(key, _signed_part(files, at, version), hashlib.sha256).hexdigest()
    if signature is None or not hmac.compare_digest(signature, expected):
        raise ValueError("not signed with this cluster's rules key")
    return at, Pack.from_texts(files), version


def rules_key_file(data_dir: str | Path, *, create: bool) -> bytes | None:
    """The rules key kept in a data directory (made, readable by its owner only, if `create`
    and there is none)."""
    path = Path(data_dir) / KEY_FILE
    if path.exists():
        return path.read_bytes().strip()
    if not create:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(secrets.token_hex(32))
    return path.read_bytes().strip()


async def push_pack(broker: str, topic: str, texts: dict[str, str], at_ms: int,
                    key: bytes) -> str:
    """Publish validated rule files, signed; returns the pack's version (a digest of its
    files). Every worker switches to it when its partitions' event time reaches `at_ms`."""
    record = rules_record(texts, at_ms, key)
    producer = AIOKafkaProducer(bootstrap_servers=broker.removeprefix("kafka://"),
                                max_request_size=16 * 1024 * 1024)
    await producer.start()
    try:
        await producer.send_and_wait(topic, record, key=b"pack", partition=0)
    finally:
        await producer.stop()
    return decode_rules_record(record).version
