"""Notices: what an alert's subscribers (webhooks) are told, and when.

An alert row remembers what it was last notified as (`none`, `firing`, `resolved`). A mute (a
silence, an inhibition) holds a firing notice back: the scheduler sends it once the mute ends
if the alert still fires; a resolution is always sent once its firing was. Each function is
the decision for one moment, given the facts; it returns the notice to send, or None.

>>> [on_open("firing", muted) for muted in (False, True)]
['firing', None]
>>> on_change("firing", "resolved", muted=True), on_change("none", "resolved", muted=False)
('resolved', None)
>>> on_change("firing", "escalated", muted=False), on_tick("firing", "none", muted=False)
('firing', 'firing')
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["on_open", "on_change", "on_tick", "notice", "without_contacts"]


def on_open(condition: str, muted: bool) -> str | None:
    """A new alert: notified if it fires and nothing mutes it."""
    return "firing" if condition == "firing" and not muted else None


def on_change(notified: str, change: str, *, muted: bool) -> str | None:
    """A condition change of a known alert: its resolution, once its firing was notified; an
    escalation, again, unless muted."""
    if notified == "firing" and change == "resolved":
        return "resolved"
    if notified == "firing" and change == "escalated" and not muted:
        return "firing"
    return None


def on_tick(condition: str, notified: str, *, muted: bool) -> str | None:
    """The scheduler's look: a firing alert a mute held back is notified once it is not."""
    return "firing" if condition == "firing" and notified == "none" and not muted else None


def notice(kind: str, alert: Mapping[str, Any], record: Mapping[str, Any], *, receiver: str | None,
           step: str | None = None) -> dict[str, Any]:
    """The notice of a kind (firing, resolved, escalation, reminder) for every webhook."""
    return {"kind": kind, "receiver": receiver, "step": step,
            "alert": {**alert, "labels": record.get("labels") or {},
                      "evidence": without_contacts(record.get("evidence") or [])}}


def without_contacts(evidence: Iterable[Mapping[str, Any]]) -> list[dict]:
    """Evidence with the reporters' contact details removed (for the feed and webhooks)."""
    return [{name: value for name, value in item.items() if name != "reporter"}
            for item in evidence]
