"""Mutes: an alert is recorded and listed whatever happens, but not notified nor escalated
while a silence covers it or a firing cause inhibits it (Alertmanager's `Muter`: both kinds
answer one question, composed blindly).

>>> from engine.silence import Silence
>>> window = Silence("s1", {"location.building": "B7"}, 0, 10, "ops", "works")
>>> alert = {"location": {"building": "B7"}}
>>> muted(inhibited=False, alert=alert, silences=[window], now=5)
True
>>> muted(inhibited=False, alert=alert, silences=[window], now=10)
False
>>> muted(inhibited=True, alert=alert, silences=[], now=10)
True
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from engine.silence import Silence, mutes

__all__ = ["muted"]


def muted(*, inhibited: bool, alert: Mapping[str, Any], silences: Iterable[Silence],
          now: int) -> bool:
    """Whether the alert is muted at `now`: inhibited, or covered by an active silence."""
    return inhibited or mutes(alert, silences, now=now)
