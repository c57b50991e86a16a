"""Stable alert identity: the same episode of the same rule for the same key is one alert.

An id is a BLAKE2b digest of the rule id, the key and the episode's start in event time, joined by
the unit separator U+001F (which cannot occur in rule ids or YAML-given keys). Never Python's
`hash()`, which is salted per process: a replay, a restarted worker and a second worker must all
derive the same id.

>>> alert_id("waterlogging.level.high", "wl-017", 1782864000000)
'c610c086f04b6441a553f655'
"""
from __future__ import annotations

from hashlib import blake2b

__all__ = ["alert_id"]

_SEPARATOR = "\x1f"


def alert_id(rule_id: str, key: str, starts_at_ms: int) -> str:
    material = _SEPARATOR.join((rule_id, key, str(starts_at_ms))).encode()
    return blake2b(material, digest_size=12).hexdigest()
