"""Silences in the ledger: set within the duty list's limits, listed, ended (`engine.silence`
decides who may set which, and what a silence mutes)."""
from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

import orjson

from center.errors import BadRequest, NotAllowed, NotFound
from center.store import Cursor
from engine.events import format_timestamp
from engine.silence import Silence, refusal

__all__ = ["SilenceBook", "silence_of", "silence_view"]


class SilenceBook:
    """The ledger's silences (a part of `Ledger`)."""

    def add_silence(self, *, matchers: Mapping[str, Any], starts_at: int, ends_at: int,
                    author: str, role: str, reason: str) -> dict:
        """Set a silence, within the duty list's limits for the author's role (`NotAllowed`)."""
        if ends_at <= starts_at:
            raise BadRequest("a silence must end after it starts")
        refused = refusal(self.duty.silence_limits, role=role, matchers=matchers,
                          starts_at=starts_at, ends_at=ends_at, now=self.clock())
        if refused is not None:
            raise NotAllowed(refused)
        silence = Silence(f"sil-{secrets.token_hex(8)}", dict(matchers), starts_at, ends_at,
                          author, reason)
        with self.store.transaction() as tx:
            tx.execute("INSERT INTO silences (id, matchers, starts_at, ends_at, author, reason, "
                       "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (silence.id, orjson.dumps(silence.matchers).decode(), starts_at, ends_at,
                        author, reason, self.clock()))
        return silence_view(silence, self.clock())

    def silences(self) -> list[dict]:
        now = self.clock()
        with self.store.transaction() as tx:
            rows = tx.execute("SELECT * FROM silences ORDER BY starts_at DESC, id").fetchall()
        return [silence_view(silence_of(row), now) for row in rows]

    def expire_silence(self, silence_id: str) -> dict:
        """End a silence now (the record stays, as history)."""
        with self.store.transaction() as tx:
            now = self.clock()
            row = tx.execute("SELECT * FROM silences WHERE id = ?", (silence_id,)).fetchone()
            if row is None:
                raise NotFound(f"no silence {silence_id!r}")
            silence = silence_of(row)
            if silence.ends_at > now:
                silence = silence._replace(ends_at=max(now, silence.starts_at))
                tx.execute("UPDATE silences SET ends_at = ? WHERE id = ?",
                           (silence.ends_at, silence_id))
        return silence_view(silence, now)

    def _active_silences(self, tx: Cursor, now: int) -> list[Silence]:
        rows = tx.execute("SELECT * FROM silences WHERE starts_at <= ? AND ends_at > ?",
                          (now, now)).fetchall()
        return [silence_of(row) for row in rows]


def silence_of(row: Mapping[str, Any]) -> Silence:
    return Silence(row["id"], orjson.loads(row["matchers"]), row["starts_at"], row["ends_at"],
                   row["author"], row["reason"])


def silence_view(silence: Silence, now: int) -> dict:
    state = ("active" if silence.active(now)
             else "pending" if now < silence.starts_at else "expired")
    return {"id": silence.id, "matchers": dict(silence.matchers),
            "starts_at": format_timestamp(silence.starts_at),
            "ends_at": format_timestamp(silence.ends_at), "author": silence.author,
            "reason": silence.reason, "state": state}
