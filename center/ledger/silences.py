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

__all__ = ["SilenceBook", "silence_of", "silence_view", "within"]


class SilenceBook:
    """The ledger's silences (a part of `Ledger`)."""

    def add_silence(self, *, matchers: Mapping[str, Any], starts_at: int, ends_at: int,
                    author: str, role: str, reason: str,
                    scope: tuple[str, str] | None = None) -> dict:
        """Set a silence, within the duty list's limits for the author's role (`NotAllowed`);
        an author scoped to an area silences within it only (its matcher is added)."""
        if ends_at <= starts_at:
            raise BadRequest("a silence must end after it starts")
        if scope is not None:
            path, area = f"location.{scope[0]}", scope[1]
            if matchers.get(path, area) != area:
                raise NotAllowed(f"a token for {scope[0]} {area} may silence alerts of "
                                 f"{area} only, not of {matchers[path]}")
            matchers = {**matchers, path: area}
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

    def silences(self, scope: tuple[str, str] | None = None) -> list[dict]:
        """Every silence, or those set within the area of `scope`."""
        now = self.clock()
        with self.store.transaction() as tx:
            rows = tx.execute("SELECT * FROM silences ORDER BY starts_at DESC, id").fetchall()
        return [silence_view(silence, now) for silence in map(silence_of, rows)
                if within(silence, scope)]

    def expire_silence(self, silence_id: str, scope: tuple[str, str] | None = None) -> dict:
        """End a silence now (the record stays, as history); one outside the area of `scope`
        is not there for it."""
        with self.store.transaction() as tx:
            now = self.clock()
            row = tx.execute("SELECT * FROM silences WHERE id = ?", (silence_id,)).fetchone()
            if row is None or not within(silence_of(row), scope):
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


def within(silence: Silence, scope: tuple[str, str] | None) -> bool:
    """Whether the silence was set for the area of `scope` (every silence is, for the city)."""
    return scope is None or silence.matchers.get(f"location.{scope[0]}") == scope[1]


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
