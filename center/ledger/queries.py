"""Reading the ledger: an alert's whole view, lists filtered and paged, incidents."""
from __future__ import annotations

import re
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
from engine.lifecycle import Level
from engine.silence import mutes

__all__ = ["Queries", "AlertFilter", "IncidentFilter", "Page"]


@dataclass(frozen=True)
class AlertFilter:
    """Every given field must match; `since`/`until` bound the start of the episode (ms);
    `open` keeps the alerts whose chain has not ended (closed or false positive); `scope`
    keeps those of one area (a scoped token's)."""

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
    department: str | None = None
    open: bool | None = None
    since: int | None = None
    until: int | None = None
    scope: tuple[str, str] | None = None    # (area level, name) of a scoped token


@dataclass(frozen=True)
class IncidentFilter:
    category: str | None = None
    building: str | None = None
    scope: tuple[str, str] | None = None    # incidents with an alert in this area


COLUMN_OF = {"state": "chain", "incident": "incident_id"}
# A scope's level, as a column: never text from a request in the SQL.
_SCOPE_COLUMNS = {"district": "district", "street": "street", "community": "community"}
LIVE_STATES = ", ".join(f"'{state.value}'" for state in State
                         if state not in (State.closed, State.false_positive))
# Red first: the board's order. Bound as a literal, so PostgreSQL and SQLite sort alike.
SEVERITY_RANK = "CASE severity " + " ".join(
    f"WHEN '{level.name}' THEN {level.value}" for level in Level) + " END"
_ORDERS = {  # name -> (columns of the cursor, ORDER BY)
    "opened": (("opened_at", "id"), "opened_at DESC, id DESC"),
    "severity": ((SEVERITY_RANK, "opened_at", "id"),
                 f"{SEVERITY_RANK} DESC, opened_at DESC, id DESC"),
}


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

    def alerts(self, where: AlertFilter, *, limit: int = 50, cursor: str | None = None,
               order: str = "opened") -> Page:
        """Newest first by the instant the ledger opened them, or (`order="severity"`) red
        first and newest first within a colour; `cursor` continues a page."""
        clauses, params = clauses_of(where)
        rows = self._page(tx_sql=f"SELECT {LISTED_COLUMNS}, {SEVERITY_RANK} AS rank "
                                 "FROM alerts", clauses=clauses, params=params, limit=limit,
                          cursor=cursor, order=order)
        return paged(rows, limit, summary, order)

    def incidents(self, where: IncidentFilter, *, limit: int = 50,
                  cursor: str | None = None) -> Page:
        clauses, params = clauses_of(where)
        rows = self._page(tx_sql="SELECT * FROM incidents", clauses=clauses, params=params,
                          limit=limit, cursor=cursor)
        return paged(rows, limit, incident_view)

    def incident(self, incident_id: str, *, scope: tuple[str, str] | None = None) -> dict:
        """An incident with its alerts; with `scope`, those of that area only, and none at all
        (NotFound) when it has none there."""
        clauses, params = clauses_of(AlertFilter(incident=incident_id, scope=scope))
        with self.store.transaction() as tx:
            row = tx.execute("SELECT * FROM incidents WHERE id = ?", (incident_id,)).fetchone()
            alerts = [] if row is None else tx.execute(
                f"SELECT {LISTED_COLUMNS} FROM alerts WHERE {' AND '.join(clauses)} "
                "ORDER BY starts_at, id", params).fetchall()
        if row is None or (scope is not None and not alerts):
            raise NotFound(f"no incident {incident_id!r}")
        return {**incident_view(row), "alerts": [summary(alert) for alert in alerts]}

    def _page(self, *, tx_sql: str, clauses: list[str], params: list, limit: int,
              cursor: str | None, order: str = "opened") -> list[dict]:
        columns, order_by = _ORDERS[order]
        if cursor:      # an empty cursor (`cursor=`) is the first page
            clauses.append(_after(columns))
            params += _after_params(decode_cursor(cursor, len(columns)))
        sql = tx_sql + (" WHERE " + " AND ".join(clauses) if clauses else "")
        sql += f" ORDER BY {order_by} LIMIT ?"
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
        if value is None:
            continue
        if spec.name == "scope":
            level, value = value
            column = _SCOPE_COLUMNS[level]
            clauses.append(f"{column} = ?" if isinstance(where, AlertFilter) else
                           f"EXISTS (SELECT 1 FROM alerts a WHERE a.incident_id = incidents.id "
                           f"AND a.{column} = ?)")
            params.append(value)
            continue
        if spec.name == "since":
            clauses.append("starts_at >= ?")
        elif spec.name == "until":
            clauses.append("starts_at < ?")
        elif spec.name == "open":
            # IN, not NOT IN: the index on the chain state finds the few live ones.
            clauses.append(f"chain {'IN' if value else 'NOT IN'} ({LIVE_STATES})")
            continue
        else:
            clauses.append(f"{COLUMN_OF.get(spec.name, spec.name)} = ?")
        params.append(value)
    return clauses, params


def paged(rows: list[dict], limit: int, view: Callable[[dict], dict],
          order: str = "opened") -> Page:
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = None
    if more:
        last = rows[-1]
        cursor = encode_cursor(*([last["rank"]] if order == "severity" else []),
                               last["opened_at"], last["id"])
    return Page([view(row) for row in rows], cursor)


def _after(columns: tuple[str, ...]) -> str:
    """Rows after the cursor's in descending order: (a < ?) OR (a = ? AND (b < ? OR ...))."""
    first, *rest = columns
    if not rest:
        return f"{first} < ?"
    return f"({first} < ? OR ({first} = ? AND {_after(tuple(rest))}))"


def _after_params(values: tuple) -> list:
    first, *rest = values
    return [first] if not rest else [first, first, *_after_params(tuple(rest))]


# A cursor is a position in the list: `[rank.]opened_at.id` of the last row of a page. Any
# text of this form is a position, so any cursor the schema admits is answered.
CURSOR_PATTERN = r"^(?:\d{1,2}\.)?\d{1,16}\.[A-Za-z0-9_-]{1,80}$"
CURSOR_OR_EMPTY = f"{CURSOR_PATTERN}|^$"     # an empty cursor is the first page
_CURSOR = re.compile(CURSOR_PATTERN)
_TOP_RANK = 99      # above every colour: a cursor without a rank starts at the top of its time


def encode_cursor(*values: int | str) -> str:
    return ".".join(map(str, values))


def decode_cursor(cursor: str, parts: int = 2) -> tuple:
    """The values of a cursor: integers, then the last row's id. A cursor of the other order
    is a position too: a rank it has and this order has not is dropped, one it lacks is the
    top."""
    if not _CURSOR.fullmatch(cursor):
        raise BadRequest(f"invalid cursor {cursor[:100]!r}: pass next_cursor of a previous page "
                         "unchanged")
    *numbers, last_id = cursor.split(".")
    ranks = [int(number) for number in numbers]
    if len(ranks) < parts - 1:
        ranks = [_TOP_RANK, *ranks]
    return (*ranks[len(ranks) - (parts - 1):], last_id)
