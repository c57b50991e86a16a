"""Reading the ledger: an alert's whole view, lists filtered and paged, incidents."""
from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

import orjson

from center import contacts as contacts_of
from center.errors import BadRequest, NotFound
from center.ledger.rows import LISTED_COLUMNS, incident_view, summary
from center.notices import without_contacts
from center.sla import steps
from center.store import Cursor
from engine.chain import State, answered
from engine.events import format_timestamp
from engine.silence import mutes

__all__ = ["Queries", "AlertFilter", "IncidentFilter", "Page"]


@dataclass(frozen=True)
class AlertFilter:
    """Every given field must match; `since`/`until` bound the start of the episode (ms)."""

    severity: str | None = None
    condition: str | None = None
    state: str | None = None
    category: str | None = None
    rule: str | None = None
    district: str | None = None
    street: str | None = None
    community: str | None = None
    grid: str | None = None
    building: str | None = None
    incident: str | None = None
    since: int | None = None
    until: int | None = None


@dataclass(frozen=True)
class IncidentFilter:
    category: str | None = None
    building: str | None = None


COLUMN_OF = {"state": "chain", "incident": "incident_id"}


@dataclass
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


class Queries:
    """The ledger's reads (a part of `Ledger`)."""

    def alert(self, alert_id: str, *, contacts: bool = False) -> dict:
        """The whole view of an alert; with `contacts`, each report of its evidence with its
        reporter and original text (for the handler's view, and nowhere else)."""
        with self.store.transaction() as tx:
            return self._detail(tx, self._row(tx, alert_id), self.clock(), contacts=contacts)

    def _detail(self, tx: Cursor, row: Mapping[str, Any], now: int, *,
                contacts: bool = False) -> dict:
        """The whole view of an alert, read in the caller's transaction."""
        record = orjson.loads(row["body"])
        evidence = without_contacts(record.get("evidence") or [])
        if contacts:
            kept = contacts_of.of_alert(tx, row["id"])
            evidence = [{**item, **{name: value for name, value in kept[item["id"]].items()
                                    if value is not None}} if item.get("id") in kept else item
                        for item in evidence]
        deadlines = self.duty.deadlines(row["severity"], row["opened_at"])
        events = tx.execute("SELECT * FROM alert_events WHERE alert_id = ? ORDER BY seq",
                            (row["id"],)).fetchall()
        incident = tx.execute("SELECT * FROM incidents WHERE id = ?",
                              (row["incident_id"],)).fetchone()
        silenced = mutes(record, self._active_silences(tx, now), now=now)
        state = State(row["chain"])
        return {
            **summary(row),
            "labels": record.get("labels") or {},
            "evidence": evidence,
            "occurrences": record.get("occurrences"),
            "escalate_to": row["escalate_to"],
            "silenced": silenced,
            "incident": incident_view(incident) if incident else None,
            "sla": [{"step": step, "deadline": format_timestamp(at),
                     "met": answered(state, step),
                     "escalated": step in steps(row["escalated"])}
                    for step, at in deadlines.items()],
            "feedback": {"verdict": row["verdict"], "satisfaction": row["satisfaction"],
                         "corrected_category": row["corrected_category"]},
            "timeline": [{"seq": event["seq"], "at": format_timestamp(event["at"]),
                          "actor": event["actor"], "kind": event["kind"],
                          "data": orjson.loads(event["data"])} for event in events],
        }

    def alerts(self, where: AlertFilter, *, limit: int = 50, cursor: str | None = None) -> Page:
        """Newest first by the instant the ledger opened them; `cursor` continues a page."""
        clauses, params = clauses_of(where)
        if where.since is not None:
            clauses.append("starts_at >= ?")
            params.append(where.since)
        if where.until is not None:
            clauses.append("starts_at < ?")
            params.append(where.until)
        rows = self._page(tx_sql=f"SELECT {LISTED_COLUMNS} FROM alerts", clauses=clauses,
                          params=params, limit=limit, cursor=cursor)
        return paged(rows, limit, summary)

    def incidents(self, where: IncidentFilter, *, limit: int = 50,
                  cursor: str | None = None) -> Page:
        clauses, params = clauses_of(where)
        rows = self._page(tx_sql="SELECT * FROM incidents", clauses=clauses, params=params,
                          limit=limit, cursor=cursor)
        return paged(rows, limit, incident_view)

    def incident(self, incident_id: str) -> dict:
        with self.store.transaction() as tx:
            row = tx.execute("SELECT * FROM incidents WHERE id = ?", (incident_id,)).fetchone()
            if row is None:
                raise NotFound(f"no incident {incident_id!r}")
            alerts = tx.execute(f"SELECT {LISTED_COLUMNS} FROM alerts WHERE incident_id = ? "
                                "ORDER BY starts_at, id", (incident_id,)).fetchall()
        return {**incident_view(row), "alerts": [summary(alert) for alert in alerts]}

    def _page(self, *, tx_sql: str, clauses: list[str], params: list, limit: int,
              cursor: str | None) -> list[dict]:
        if cursor is not None:
            opened_at, last_id = decode_cursor(cursor)
            clauses.append("(opened_at < ? OR (opened_at = ? AND id < ?))")
            params += [opened_at, opened_at, last_id]
        sql = tx_sql + (" WHERE " + " AND ".join(clauses) if clauses else "")
        sql += " ORDER BY opened_at DESC, id DESC LIMIT ?"
        with self.store.transaction() as tx:
            return tx.execute(sql, [*params, limit + 1]).fetchall()

    def _row(self, tx: Cursor, alert_id: str) -> dict:
        row = tx.execute(f"SELECT * FROM alerts WHERE id = ?{self.store.for_update}",
                         (alert_id,)).fetchone()
        if row is None:
            raise NotFound(f"no alert {alert_id!r}")
        return row


def clauses_of(where: AlertFilter | IncidentFilter) -> tuple[list[str], list]:
    clauses, params = [], []
    for spec in fields(where):
        value = getattr(where, spec.name)
        if value is None or spec.name in ("since", "until"):
            continue
        clauses.append(f"{COLUMN_OF.get(spec.name, spec.name)} = ?")
        params.append(value)
    return clauses, params


def paged(rows: list[dict], limit: int, view: Callable[[dict], dict]) -> Page:
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = encode_cursor(rows[-1]["opened_at"], rows[-1]["id"]) if more else None
    return Page([view(row) for row in rows], cursor)


def encode_cursor(opened_at: int, last_id: str) -> str:
    return base64.urlsafe_b64encode(f"{opened_at}:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        opened_at, last_id = text.split(":", 1)
        return int(opened_at), last_id
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadRequest(f"invalid cursor {cursor!r}: pass next_cursor of a previous page "
                         "unchanged") from None
