"""The alert ledger: every warning, its incident, its chain and its full history.

The ledger records what the workers raise (`ingest`, idempotent under re-delivery), what people do
(`act`, `feedback`) and what the clock brings (`tick`: SLA escalations, reminders, notices held
back by a silence or an inhibition). Each change is an append-only row in `alert_events`; the
`alerts` row holds the state derived from them, so lists and filters stay cheap.

Two states are kept apart: the *condition* (firing / resolved, from the rule) and the *chain*
(open → … → closed, from people). An alert that clears before anyone acknowledges it is
condition-resolved and chain-open, and stays listed as such.

Time comes from the `clock` given at construction (milliseconds); nothing here reads the wall
clock, so tests drive SLA deadlines by moving an injected clock.
"""
from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import orjson

from center import contacts as contacts_of
from center.store import Cursor, Store
from engine.chain import ChainError, State, answered, transition
from engine.duty import SLA_STEPS, DutyList
from engine.events import format_timestamp, parse_timestamp
from engine.feedback import VERDICTS
from engine.lifecycle import Level
from engine.matchers import field_of, matches
from engine.silence import Silence, mutes, refusal

__all__ = ["Ledger", "alert_record_problem", "AlertFilter", "IncidentFilter", "NotFound",
           "BadRequest", "NotAllowed", "IngestResult", "Page"]

_CONDITION_CHANGES = ("fired", "escalated", "resolved")
_ROWS_PER_STATEMENT = 1000    # SQLite takes at most 32,766 parameters in a statement
_ACTION_FIELDS = {"acknowledge": ("note",), "dispatch": ("department", "handler", "note"),
                  "resolve": ("note",), "reply": ("message",), "close": ("note",),
                  "false_positive": ("note",), "assign": ("handler",), "comment": ("text",)}


def alert_record_problem(record: Any) -> str | None:
    """Why a value is not an alert record the ledger can take (None: it is one).

    >>> alert_record_problem({"id": "a1", "rule": "r", "key": "k", "severity": "purple",
    ...                       "change": "fired", "at": 1782864000000, "starts_at": 1782864000000})
    "severity: 'purple' is not one of blue, yellow, orange, red"
    """
    if not isinstance(record, dict):
        return "expected a JSON object"
    for name in ("id", "rule", "key"):
        if not isinstance(record.get(name), str) or not record[name]:
            return f"{name}: expected a non-empty string"
    if record.get("severity") not in Level.__members__:
        return (f"severity: {record.get('severity')!r} is not one of "
                f"{', '.join(Level.__members__)}")
    if record.get("change") not in _CONDITION_CHANGES:
        return f"change: {record.get('change')!r} is not one of {', '.join(_CONDITION_CHANGES)}"
    for name in ("at", "starts_at"):
        try:
            parse_timestamp(record.get(name), name)
        except ValueError as error:
            return str(error)
    for name in ("labels", "location"):
        if not isinstance(record.get(name) or {}, dict):
            return f"{name}: expected an object"
    if not isinstance(record.get("evidence") or [], list):
        return "evidence: expected a list"
    return None


class NotFound(LookupError):
    """No alert, incident or silence with that id."""


class BadRequest(ValueError):
    """A request the ledger cannot take as given (a malformed cursor, an empty feedback)."""


class NotAllowed(PermissionError):
    """The caller's role may not do this here (a silence beyond its limits)."""


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


_COLUMN_OF = {"state": "chain", "incident": "incident_id"}


@dataclass
class IngestResult:
    new: int = 0
    updated: int = 0
    duplicates: int = 0


@dataclass
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


class Ledger:
    def __init__(self, store: Store, duty: DutyList, *, clock: Callable[[], int],
                 targets: Sequence[str] = ()) -> None:
        self.store = store
        self.duty = duty
        self.clock = clock
        self.targets = tuple(targets)          # webhook names every notice is queued for
        self._for_update = " FOR UPDATE" if store.dialect == "postgres" else ""

    # -- what the workers raise ------------------------------------------------------------------
    def ingest(self, records: Iterable[Mapping[str, Any]]) -> IngestResult:
        """Record alert changes from `ewe.alerts`; a change already recorded is skipped.

        A batch costs a few statements, not a few per record: the history rows go in at once
        (the unique `dedupe` key tells which were new), the alerts they touch are read at once,
        and the writes are sent as multi-row statements at the end."""
        records = list(records)
        result = IngestResult()
        feed: list[dict] = []
        with self.store.transaction() as tx:
            now = self.clock()
            silences = self._active_silences(tx, now)
            fresh = self._record_changes(tx, records, now)
            result.duplicates = len(records) - len(fresh)
            contacts_of.link(tx, {record["id"]: [item["id"] for item in record.get("evidence")
                                                 or () if "text" in item and "id" in item]
                                  for record in fresh})
            rows = self._rows(tx, {record["id"] for record in fresh})
            writes = _Writes(tx)
            opening = [record for record in fresh if record["id"] not in rows]
            if opening:
                starts = [parse_timestamp(record["starts_at"]) for record in opening]
                window = self.duty.group_window_ms
                keys = sorted({self.duty.group_key(record) for record in opening})
                if self.store.dialect == "postgres":
                    # Two replicas opening alerts of one group at once would each see no
                    # incident and open one: the group's lock (till commit) makes the second
                    # wait and find the first's. Taken in key order, so replicas cannot deadlock.
                    tx.execute("SELECT pg_advisory_xact_lock(hashtextextended(key, 0)) FROM "
                               "unnest(?::text[]) WITH ORDINALITY AS keys(key, n) ORDER BY n",
                               (keys,))
                writes.preload_incidents(set(keys), min(starts) - window, max(starts) + window)
            for record in fresh:
                at = parse_timestamp(record["at"])
                row = rows.get(record["id"])
                if row is None:
                    row = rows[record["id"]] = self._open(writes, record, at, now, silences)
                    result.new += 1
                else:
                    row = rows[record["id"]] = self._update_condition(writes, row, record, at,
                                                                      now, silences)
                    result.updated += 1
                if any(matches(record, rule.source) for rule in self.duty.inhibit):
                    self._refresh_inhibition(writes, record, now)
                if self.store.listened:
                    feed.append({"type": "alert", "change": record["change"],
                                 "alert": _summary(row)})
            writes.flush()
        self._publish(feed)
        return result

    def _record_changes(self, tx: Cursor, records: list[Mapping[str, Any]],
                        now: int) -> list[Mapping[str, Any]]:
        """Append each change to the history; the records whose change was not there yet."""
        keyed: dict[str, Mapping[str, Any]] = {}
        for record in records:
            key = f"{record['id']}:{record['change']}:{parse_timestamp(record['at'])}"
            keyed.setdefault(key, record)
        items = list(keyed.items())
        new: set[str] = set()
        for start in range(0, len(items), _ROWS_PER_STATEMENT):
            chunk = items[start:start + _ROWS_PER_STATEMENT]
            values = []
            for key, record in chunk:
                values += [record["id"], now, record["change"], orjson.dumps(
                    {"severity": record["severity"], "at": record["at"]}).decode(), key]
            inserted = tx.execute(
                "INSERT INTO alert_events (alert_id, at, actor, kind, data, dedupe) VALUES "
                + ", ".join(["(?, ?, 'engine', ?, ?, ?)"] * len(chunk))
                + " ON CONFLICT (dedupe) DO NOTHING RETURNING dedupe", values).fetchall()
            new.update(row["dedupe"] for row in inserted)
        return [record for key, record in items if key in new]

    def _rows(self, tx: Cursor, alert_ids: set[str]) -> dict[str, dict]:
        if not alert_ids:
            return {}
        ordered = sorted(alert_ids)   # one lock order for concurrent writers
        rows: dict[str, dict] = {}
        for start in range(0, len(ordered), _ROWS_PER_STATEMENT):
            chunk = ordered[start:start + _ROWS_PER_STATEMENT]
            rows.update((row["id"], row) for row in tx.execute(
                f"SELECT * FROM alerts WHERE id IN ({', '.join('?' * len(chunk))})"
                f"{self._for_update}", chunk).fetchall())
        return rows

    def _open(self, writes: _Writes, record: Mapping[str, Any], at: int, now: int,
              silences: list[Silence]) -> dict:
        location = record.get("location") or {}
        route = self.duty.route(record)
        condition = "resolved" if record["change"] == "resolved" else "firing"
        deadlines = self.duty.deadlines(record["severity"], now)
        inhibited = False
        if condition == "firing" and any(matches(record, rule.target)
                                         for rule in self.duty.inhibit):
            inhibited = self.duty.inhibited(record, self._firing_causes(writes, record))
        row = {
            "id": record["id"], "rule": record["rule"], "alert_key": record["key"],
            "severity": record["severity"], "condition": condition, "chain": State.open.value,
            "category": (record.get("labels") or {}).get("category"),
            **{level: location.get(level)
               for level in ("district", "street", "community", "grid", "building")},
            "starts_at": parse_timestamp(record["starts_at"]), "condition_at": at,
            "opened_at": now, "updated_at": now,
            "department": route.department if route else None,
            "escalate_to": route.escalate_to if route else None, "handler": None,
            "incident_id": self._group(writes, record, now),
            "inhibited": int(inhibited),
            "notified": "none", "escalated": "", "next_due": _next_due(deadlines, State.open, ()),
            "remind_at": None, "verdict": None, "satisfaction": None, "corrected_category": None,
            "view": _view(record), "body": orjson.dumps(record).decode(),
        }
        if condition == "firing" and not self._muted(row, record, silences, now):
            self._notify(writes, row, record, "firing", now)
            row["notified"] = "firing"
        writes.new_alerts[row["id"]] = row
        return row

    def _update_condition(self, writes: _Writes, row: dict, record: Mapping[str, Any], at: int,
                          now: int, silences: list[Silence]) -> dict:
        if at < row["condition_at"]:
            return row    # an older change delivered late: the history has it, the state not
        changes: dict[str, Any] = {
            "condition": "resolved" if record["change"] == "resolved" else "firing",
            "severity": record["severity"], "condition_at": at, "updated_at": now,
            "view": _view(record), "body": orjson.dumps(record).decode()}
        if record["severity"] != row["severity"]:
            deadlines = self.duty.deadlines(record["severity"], row["opened_at"])
            changes["next_due"] = _next_due(deadlines, State(row["chain"]),
                                            _steps(row["escalated"]))
        row = {**row, **changes}
        if row["notified"] == "firing" and record["change"] == "resolved":
            self._notify(writes, row, record, "resolved", now)
            row["notified"] = changes["notified"] = "resolved"
        elif (row["notified"] == "firing" and record["change"] == "escalated"
              and not self._muted(row, record, silences, now)):
            self._notify(writes, row, record, "firing", now)
        writes.update_alert(row["id"], changes)
        return row

    def _group(self, writes: _Writes, record: Mapping[str, Any], now: int) -> str:
        key = self.duty.group_key(record)
        starts_at = parse_timestamp(record["starts_at"])
        window = self.duty.group_window_ms

        def joinable(incident: Mapping[str, Any]) -> bool:
            return (incident["last_starts_at"] >= starts_at - window
                    and incident["first_starts_at"] <= starts_at + window)

        incident = writes.incidents.get(key)
        if incident is None or not joinable(incident):
            incident = next(filter(joinable, writes.candidates.get(key, ())), None)
        if incident is None:
            incident = {"id": f"inc-{record['id']}", "group_key": key,
                        "category": (record.get("labels") or {}).get("category"),
                        "building": (record.get("location") or {}).get("building"),
                        "severity": record["severity"], "opened_at": now,
                        "first_starts_at": starts_at, "last_starts_at": starts_at,
                        "alert_count": 1}
            writes.new_incidents[incident["id"]] = incident
        else:
            incident = {**incident, "alert_count": incident.get("alert_count", 0) + 1,
                        "severity": max(incident["severity"], record["severity"],
                                        key=Level.__getitem__),
                        "last_starts_at": max(incident["last_starts_at"], starts_at)}
            if incident["id"] in writes.new_incidents:
                writes.new_incidents[incident["id"]] = incident
            else:
                added = writes.incident_growth.get(incident["id"], (0, "", 0))[0] + 1
                writes.incident_growth[incident["id"]] = (
                    added, incident["severity"], incident["last_starts_at"])
        writes.incidents[key] = incident
        return incident["id"]

    # -- mutes: silences and inhibition ----------------------------------------------------------
    def _active_silences(self, tx: Cursor, now: int) -> list[Silence]:
        rows = tx.execute("SELECT * FROM silences WHERE starts_at <= ? AND ends_at > ?",
                          (now, now)).fetchall()
        return [_silence(row) for row in rows]

    def _muted(self, row: Mapping[str, Any], record: Mapping[str, Any],
               silences: list[Silence], now: int) -> bool:
        return bool(row["inhibited"]) or mutes(record, silences, now=now)

    def _firing_causes(self, writes: _Writes, record: Mapping[str, Any]) -> list[dict]:
        """Firing alerts that may inhibit this one: per inhibit rule whose target it meets,
        those meeting the source with the same values of the `equal` fields."""
        found: list[dict] = []
        for rule in self.duty.inhibit:
            if matches(record, rule.target):
                wanted = {**rule.source, **{path: field_of(record, path) for path in rule.equal}}
                found += [row["record"] for row in writes.firing_where(wanted)]
        return found

    def _refresh_inhibition(self, writes: _Writes, cause: Mapping[str, Any], now: int) -> None:
        """A cause fired or resolved: mark again the firing alerts it may inhibit."""
        for rule in self.duty.inhibit:
            if not matches(cause, rule.source):
                continue
            wanted = {**rule.target, **{path: field_of(cause, path) for path in rule.equal}}
            for row in writes.firing_where(wanted):
                record = row["record"]
                inhibited = int(self.duty.inhibited(record, self._firing_causes(writes, record)))
                if inhibited != row["inhibited"]:
                    writes.update_alert(row["id"], {"inhibited": inhibited, "updated_at": now})

    # -- what people do --------------------------------------------------------------------------
    def act(self, alert_id: str, action: str, given: Mapping[str, Any], *, actor: str) -> dict:
        """Apply a chain action; the alert's new view, or ChainError with the reason."""
        with self.store.transaction() as tx:
            now = self.clock()
            row = self._row(tx, alert_id)
            allowed = _ACTION_FIELDS.get(action, ())
            unknown = sorted(set(given) - set(allowed))
            if unknown:
                raise ChainError(f"{action} takes no field {', '.join(map(repr, unknown))}"
                                 + (f"; it takes {', '.join(allowed)}" if allowed else ""))
            recorded = {name: value for name, value in given.items() if value is not None}
            state = transition(State(row["chain"]), action, recorded)
            changes: dict[str, Any] = {"chain": state.value, "updated_at": now,
                                       "remind_at": None}
            if action == "dispatch":
                changes["department"] = recorded["department"]
                changes["handler"] = recorded.get("handler")
            elif action == "assign":
                changes["handler"] = recorded["handler"]
            elif action == "false_positive":
                changes["verdict"] = "false_positive"
            if action != "comment":
                deadlines = self.duty.deadlines(row["severity"], row["opened_at"])
                changes["next_due"] = _next_due(deadlines, state, _steps(row["escalated"]))
            else:
                del changes["remind_at"]
            _update(tx, alert_id, changes)
            event = self._append(tx, alert_id, now, actor, action, recorded)
            row.update(changes)
            detail = self._detail(tx, row, now, contacts=True)
        self._publish([{"type": "event", "event": event, "alert": _summary(row)}])
        return detail

    def feedback(self, alert_id: str, *, actor: str, verdict: str | None = None,
                 satisfaction: int | None = None, corrected_category: str | None = None,
                 comment: str | None = None) -> dict:
        """Record feedback on an alert: staff verdict, resident satisfaction, re-classification."""
        given = {"verdict": verdict, "satisfaction": satisfaction,
                 "corrected_category": corrected_category, "comment": comment}
        given = {name: value for name, value in given.items() if value is not None}
        if not set(given) - {"comment"}:
            raise BadRequest("feedback needs at least one of verdict, satisfaction, "
                             "corrected_category")
        if verdict is not None and verdict not in VERDICTS:
            raise BadRequest(f"verdict must be one of {', '.join(VERDICTS)}")
        if satisfaction is not None and not 1 <= satisfaction <= 5:
            raise BadRequest("satisfaction is 1 to 5")
        with self.store.transaction() as tx:
            now = self.clock()
            row = self._row(tx, alert_id)
            changes = {name: given[name] for name in
                       ("verdict", "satisfaction", "corrected_category") if name in given}
            changes["updated_at"] = now
            _update(tx, alert_id, changes)
            event = self._append(tx, alert_id, now, actor, "feedback", given)
            row.update(changes)
            detail = self._detail(tx, row, now, contacts=True)
        self._publish([{"type": "event", "event": event, "alert": _summary(row)}])
        return detail

    def _append(self, tx: Cursor, alert_id: str, at: int, actor: str, kind: str,
                data: Mapping[str, Any]) -> dict:
        text = orjson.dumps(data).decode()
        tx.execute("INSERT INTO alert_events (alert_id, at, actor, kind, data) "
                   "VALUES (?, ?, ?, ?, ?)", (alert_id, at, actor, kind, text))
        return {"alert_id": alert_id, "at": format_timestamp(at), "actor": actor, "kind": kind,
                "data": dict(data)}

    # -- what the clock brings -------------------------------------------------------------------
    def tick(self) -> dict[str, Any]:
        """Escalate missed SLA deadlines, repeat reminders, and send the notices that a silence
        or an inhibition held back and that are due now. Counts of each, and the (severity,
        step) of every escalation."""
        counts: dict[str, Any] = {"escalations": 0, "reminders": 0, "released": 0,
                                  "escalated": []}
        feed: list[dict] = []
        with self.store.transaction() as tx:
            if not self._scheduler_turn(tx):
                return counts
            now = self.clock()
            silences = self._active_silences(tx, now)
            writes = _Writes(tx)
            for row in tx.execute("SELECT * FROM alerts WHERE next_due <= ?",
                                  (now,)).fetchall():
                record = orjson.loads(row["body"])
                if row["condition"] == "resolved" and row["chain"] == State.open.value:
                    # Cleared before anyone looked: shown as such, not escalated.
                    _update(tx, row["id"], {"next_due": None})
                    continue
                if self._muted(row, record, silences, now):
                    continue
                feed.append(self._escalate(writes, row, record, now))
                counts["escalations"] += 1
                counts["escalated"].append((row["severity"], feed[-1]["event"]["data"]["step"]))
            for row in tx.execute("SELECT * FROM alerts WHERE remind_at <= ?",
                                  (now,)).fetchall():
                record = orjson.loads(row["body"])
                if self._muted(row, record, silences, now):
                    continue
                self._notify(writes, row, record, "reminder", now, receiver=row["escalate_to"])
                feed.append({"type": "event", "alert": _summary(row), "event": self._append(
                    tx, row["id"], now, "center", "reminder", {"escalate_to": row["escalate_to"]})})
                _update(tx, row["id"], {"remind_at": now + self.duty.reminder_ms})
                counts["reminders"] += 1
            for row in tx.execute("SELECT * FROM alerts WHERE condition = 'firing' "
                                  "AND notified = 'none'").fetchall():
                record = orjson.loads(row["body"])
                if self._muted(row, record, silences, now):
                    continue
                self._notify(writes, row, record, "firing", now)
                _update(tx, row["id"], {"notified": "firing"})
                counts["released"] += 1
            writes.flush()
        self._publish(feed)
        return counts

    def _escalate(self, writes: _Writes, row: dict, record: dict, now: int) -> dict:
        tx = writes.tx
        deadlines = self.duty.deadlines(row["severity"], row["opened_at"])
        state = State(row["chain"])
        step = min((at, step) for step, at in deadlines.items()
                   if step not in _steps(row["escalated"]) and not answered(state, step))[1]
        escalated = _steps(row["escalated"]) + (step,)
        changes = {"escalated": ",".join(escalated), "updated_at": now,
                   "next_due": _next_due(deadlines, state, escalated),
                   "remind_at": now + self.duty.reminder_ms}
        _update(tx, row["id"], changes)
        row = {**row, **changes}
        self._notify(writes, row, record, "escalation", now, receiver=row["escalate_to"],
                     step=step)
        event = self._append(tx, row["id"], now, "center", "sla_missed",
                             {"step": step, "deadline": format_timestamp(deadlines[step]),
                              "severity": row["severity"], "escalate_to": row["escalate_to"]})
        return {"type": "event", "event": event, "alert": _summary(row)}

    def _scheduler_turn(self, tx: Cursor) -> bool:
        """One replica at a time runs the scheduler (PostgreSQL); SQLite has one process."""
        if self.store.dialect != "postgres":
            return True
        return tx.execute("SELECT pg_try_advisory_xact_lock(7407) AS mine").fetchone()["mine"]

    def _notify(self, writes: _Writes, row: Mapping[str, Any], record: Mapping[str, Any],
                kind: str, now: int, *, receiver: str | None = None,
                step: str | None = None) -> None:
        """Queue a notice for every webhook; the outbox delivers it with retries."""
        if not self.targets:
            return
        notice = {"kind": kind, "receiver": receiver or row["department"], "step": step,
                  "alert": {**_summary(row), "labels": record.get("labels") or {},
                            "evidence": without_contacts(record.get("evidence") or [])}}
        payload = orjson.dumps(notice).decode()
        writes.notices += [(target, row["id"], kind, payload, now, now)
                           for target in self.targets]

    # -- silences --------------------------------------------------------------------------------
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
        return _silence_view(silence, self.clock())

    def silences(self) -> list[dict]:
        now = self.clock()
        with self.store.transaction() as tx:
            rows = tx.execute("SELECT * FROM silences ORDER BY starts_at DESC, id").fetchall()
        return [_silence_view(_silence(row), now) for row in rows]

    def expire_silence(self, silence_id: str) -> dict:
        """End a silence now (the record stays, as history)."""
        with self.store.transaction() as tx:
            now = self.clock()
            row = tx.execute("SELECT * FROM silences WHERE id = ?", (silence_id,)).fetchone()
            if row is None:
                raise NotFound(f"no silence {silence_id!r}")
            silence = _silence(row)
            if silence.ends_at > now:
                silence = silence._replace(ends_at=max(now, silence.starts_at))
                tx.execute("UPDATE silences SET ends_at = ? WHERE id = ?",
                           (silence.ends_at, silence_id))
        return _silence_view(silence, now)

    # -- archiving -------------------------------------------------------------------------------
    def archive(self, before: int, keep: Callable[[list[dict]], None], *,
                batch: int = 500, contacts: bool = False) -> int:
        """Take out of the ledger the alerts whose chain ended (closed, or marked a false
        positive) before `before` and that have nothing left to send (every history entry
        published, every notice delivered or given up), handing each batch's whole views to
        `keep` first: a batch is deleted, in the transaction that read it, only once `keep`
        returned. An incident left without alerts goes with its last one. Returns how many
        alerts were archived."""
        archived = 0
        while True:
            with self.store.transaction() as tx:
                rows = tx.execute(
                    "SELECT * FROM alerts a WHERE chain IN ('closed', 'false_positive') "
                    "AND updated_at < ? AND NOT EXISTS (SELECT 1 FROM alert_events e "
                    "WHERE e.alert_id = a.id AND e.published = 0) AND NOT EXISTS (SELECT 1 "
                    "FROM notifications n WHERE n.alert_id = a.id AND n.status = 'pending') "
                    "ORDER BY updated_at, id LIMIT ?", (before, batch)).fetchall()
                if not rows:
                    # Contacts of reports that raised nothing go too: the reply needs none.
                    contacts_of.forget_unlinked(tx, before)
                    return archived
                now = self.clock()
                keep([self._detail(tx, row, now, contacts=contacts) for row in rows])
                archived += len(rows)
                ids = [row["id"] for row in rows]
                contacts_of.forget(tx, ids)
                marks = ", ".join("?" * len(ids))
                for table, column in (("notifications", "alert_id"), ("alert_events", "alert_id"),
                                      ("alerts", "id")):
                    tx.execute(f"DELETE FROM {table} WHERE {column} IN ({marks})", ids)
                incidents = sorted({row["incident_id"] for row in rows if row["incident_id"]})
                if incidents:
                    tx.execute(f"DELETE FROM incidents WHERE id IN "
                               f"({', '.join('?' * len(incidents))}) AND NOT EXISTS "
                               "(SELECT 1 FROM alerts WHERE alerts.incident_id = incidents.id)",
                               incidents)

    # -- reading ---------------------------------------------------------------------------------
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
            **_summary(row),
            "labels": record.get("labels") or {},
            "evidence": evidence,
            "occurrences": record.get("occurrences"),
            "escalate_to": row["escalate_to"],
            "silenced": silenced,
            "incident": _incident_view(incident) if incident else None,
            "sla": [{"step": step, "deadline": format_timestamp(at),
                     "met": answered(state, step),
                     "escalated": step in _steps(row["escalated"])}
                    for step, at in deadlines.items()],
            "feedback": {"verdict": row["verdict"], "satisfaction": row["satisfaction"],
                         "corrected_category": row["corrected_category"]},
            "timeline": [{"seq": event["seq"], "at": format_timestamp(event["at"]),
                          "actor": event["actor"], "kind": event["kind"],
                          "data": orjson.loads(event["data"])} for event in events],
        }

    def alerts(self, where: AlertFilter, *, limit: int = 50, cursor: str | None = None) -> Page:
        """Newest first by the instant the ledger opened them; `cursor` continues a page."""
        clauses, params = _clauses(where)
        if where.since is not None:
            clauses.append("starts_at >= ?")
            params.append(where.since)
        if where.until is not None:
            clauses.append("starts_at < ?")
            params.append(where.until)
        rows = self._page(tx_sql=f"SELECT {_LISTED_COLUMNS} FROM alerts", clauses=clauses,
                          params=params, limit=limit, cursor=cursor)
        return _paged(rows, limit, _summary)

    def incidents(self, where: IncidentFilter, *, limit: int = 50,
                  cursor: str | None = None) -> Page:
        clauses, params = _clauses(where)
        rows = self._page(tx_sql="SELECT * FROM incidents", clauses=clauses, params=params,
                          limit=limit, cursor=cursor)
        return _paged(rows, limit, _incident_view)

    def incident(self, incident_id: str) -> dict:
        with self.store.transaction() as tx:
            row = tx.execute("SELECT * FROM incidents WHERE id = ?", (incident_id,)).fetchone()
            if row is None:
                raise NotFound(f"no incident {incident_id!r}")
            alerts = tx.execute(f"SELECT {_LISTED_COLUMNS} FROM alerts WHERE incident_id = ? "
                                "ORDER BY starts_at, id", (incident_id,)).fetchall()
        return {**_incident_view(row), "alerts": [_summary(alert) for alert in alerts]}

    def _page(self, *, tx_sql: str, clauses: list[str], params: list, limit: int,
              cursor: str | None) -> list[dict]:
        if cursor is not None:
            opened_at, last_id = _decode_cursor(cursor)
            clauses.append("(opened_at < ? OR (opened_at = ? AND id < ?))")
            params += [opened_at, opened_at, last_id]
        sql = tx_sql + (" WHERE " + " AND ".join(clauses) if clauses else "")
        sql += " ORDER BY opened_at DESC, id DESC LIMIT ?"
        with self.store.transaction() as tx:
            return tx.execute(sql, [*params, limit + 1]).fetchall()

    def _row(self, tx: Cursor, alert_id: str) -> dict:
        row = tx.execute(f"SELECT * FROM alerts WHERE id = ?{self._for_update}",
                         (alert_id,)).fetchone()
        if row is None:
            raise NotFound(f"no alert {alert_id!r}")
        return row

    # -- out: chain events for Kafka, the live feed ----------------------------------------------
    def unpublished(self, limit: int = 500) -> list[dict]:
        """Chain events not yet on `ewe.alert-events`, oldest first, with their alert's rule."""
        with self.store.transaction() as tx:
            rows = tx.execute(
                "SELECT e.seq, e.alert_id, e.at, e.actor, e.kind, e.data, a.rule, a.alert_key "
                "FROM alert_events e JOIN alerts a ON a.id = e.alert_id "
                "WHERE e.published = 0 ORDER BY e.seq LIMIT ?", (limit,)).fetchall()
        return [{"seq": row["seq"], "alert_id": row["alert_id"], "rule": row["rule"],
                 "key": row["alert_key"], "kind": row["kind"], "actor": row["actor"],
                 "at": format_timestamp(row["at"]), "data": orjson.loads(row["data"])}
                for row in rows]

    def mark_published(self, seqs: Sequence[int]) -> None:
        if not seqs:
            return
        with self.store.transaction() as tx:
            tx.execute(f"UPDATE alert_events SET published = 1 WHERE seq IN "
                       f"({', '.join('?' for _ in seqs)})", list(seqs))

    def _publish(self, feed: list[dict]) -> None:
        """Changes for the live feed, once committed: through the store, which reaches the
        feeds of every replica."""
        if feed and self.store.listened:
            self.store.notify([orjson.dumps(item) for item in feed])


# -- rows and views ------------------------------------------------------------------------------
_ALERT_COLUMNS = ("id", "rule", "alert_key", "severity", "condition", "chain", "category",
                  "district", "street", "community", "grid", "building", "starts_at",
                  "condition_at", "opened_at", "updated_at", "department", "escalate_to",
                  "handler", "incident_id", "inhibited", "notified", "escalated", "next_due",
                  "remind_at", "verdict", "satisfaction", "corrected_category", "view", "body")
# A list needs neither the evidence nor the rest of the record: `view` has what it shows.
_LISTED_COLUMNS = ", ".join(column for column in _ALERT_COLUMNS if column != "body")
_INCIDENT_COLUMNS = ("id", "group_key", "category", "building", "severity", "opened_at",
                     "first_starts_at", "last_starts_at", "alert_count")
_NOTICE_COLUMNS = ("target", "alert_id", "kind", "payload", "next_attempt_at", "created_at")


class _Writes:
    """The writes of one transaction, held back and sent as multi-row statements by `flush`
    (anything that reads alerts back flushes first)."""

    def __init__(self, tx: Cursor) -> None:
        self.tx = tx
        self.new_alerts: dict[str, dict] = {}
        self.alert_changes: dict[str, dict] = {}
        self.incidents: dict[str, dict] = {}          # group key -> latest incident seen
        self.candidates: dict[str, list[dict]] = {}   # group key -> stored incidents
        self.new_incidents: dict[str, dict] = {}
        self.incident_growth: dict[str, tuple[int, str, int]] = {}  # added, severity, last
        self.notices: list[tuple] = []

    def firing_where(self, wanted: Mapping[str, Any]) -> list[dict]:
        """Firing alerts whose fields equal `wanted`, as they stand with the writes held back:
        the database's (narrowed by column where a path is one) and this batch's new ones."""
        clauses, params, rest = ["condition = 'firing'"], [], {}
        for path, value in wanted.items():
            column = _COLUMN_OF_PATH.get(path)
            if column is None:
                rest[path] = value
            elif value is None:
                clauses.append(f"{column} IS NULL")
            else:
                clauses.append(f"{column} = ?")
                params.append(value)
        found = []
        for row in self.tx.execute(f"SELECT id, inhibited, body FROM alerts "
                                   f"WHERE {' AND '.join(clauses)}", params).fetchall():
            row = {**row, **self.alert_changes.get(row["id"], {})}
            if row.get("condition", "firing") == "firing":
                found.append({"id": row["id"], "inhibited": row["inhibited"],
                              "record": orjson.loads(row["body"])})
        found = [row for row in found if not rest or matches(row["record"], rest)]
        found += [{"id": row["id"], "inhibited": row["inhibited"],
                   "record": orjson.loads(row["body"])}
                  for row in self.new_alerts.values() if row["condition"] == "firing"
                  and _row_matches(row, wanted)]
        return found

    def preload_incidents(self, keys: set[str], earliest: int, latest: int) -> None:
        """The incidents that new alerts of this batch may join, read in one query."""
        if not keys:
            return
        ordered = sorted(keys)
        rows = self.tx.execute(
            "SELECT id, group_key, severity, first_starts_at, last_starts_at FROM incidents "
            f"WHERE group_key IN ({', '.join('?' * len(ordered))}) AND last_starts_at >= ? "
            "AND first_starts_at <= ? ORDER BY last_starts_at DESC", [*ordered, earliest, latest]
        ).fetchall()
        for row in rows:
            self.candidates.setdefault(row["group_key"], []).append(row)

    def update_alert(self, alert_id: str, changes: Mapping[str, Any]) -> None:
        if alert_id in self.new_alerts:
            self.new_alerts[alert_id].update(changes)
        else:
            self.alert_changes.setdefault(alert_id, {}).update(changes)

    def flush(self) -> None:
        _insert(self.tx, "alerts", _ALERT_COLUMNS, list(self.new_alerts.values()))
        _insert(self.tx, "incidents", _INCIDENT_COLUMNS, list(self.new_incidents.values()))
        _insert(self.tx, "notifications", _NOTICE_COLUMNS,
                [dict(zip(_NOTICE_COLUMNS, notice, strict=True)) for notice in self.notices])
        for alert_id, changes in self.alert_changes.items():
            _update(self.tx, alert_id, changes)
        for incident_id, (added, severity, last) in self.incident_growth.items():
            self.tx.execute("UPDATE incidents SET alert_count = alert_count + ?, severity = ?, "
                            "last_starts_at = ? WHERE id = ?",
                            (added, severity, last, incident_id))
        self.new_alerts, self.alert_changes, self.notices = {}, {}, []
        self.new_incidents, self.incident_growth = {}, {}


def _insert(tx: Cursor, table: str, columns: tuple[str, ...], rows: list[dict]) -> None:
    if rows:
        tx.executemany(f"INSERT INTO {table} ({', '.join(columns)}) "
                       f"VALUES ({', '.join('?' * len(columns))})",
                       [[row[column] for column in columns] for row in rows])


def _update(tx: Cursor, alert_id: str, changes: Mapping[str, Any]) -> None:
    names = list(changes)
    tx.execute(f"UPDATE alerts SET {', '.join(f'{name} = ?' for name in names)} WHERE id = ?",
               [*(changes[name] for name in names), alert_id])


# Matcher paths that are columns of `alerts`, so a matcher narrows a query instead of a scan.
_COLUMN_OF_PATH = {"rule": "rule", "severity": "severity", "key": "alert_key",
                   "labels.category": "category",
                   **{f"location.{level}": level
                      for level in ("district", "street", "community", "grid", "building")}}


def _row_matches(row: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    """`matches` on an alerts row: columns where the path is one, the body otherwise."""
    record = None
    for path, value in wanted.items():
        column = _COLUMN_OF_PATH.get(path)
        if column is not None:
            if row[column] != value:
                return False
            continue
        record = record or orjson.loads(row["body"])
        if field_of(record, path) != value:
            return False
    return True


def _clauses(where: AlertFilter | IncidentFilter) -> tuple[list[str], list]:
    clauses, params = [], []
    for spec in fields(where):
        value = getattr(where, spec.name)
        if value is None or spec.name in ("since", "until"):
            continue
        clauses.append(f"{_COLUMN_OF.get(spec.name, spec.name)} = ?")
        params.append(value)
    return clauses, params


def _paged(rows: list[dict], limit: int, view: Callable[[dict], dict]) -> Page:
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = _encode_cursor(rows[-1]["opened_at"], rows[-1]["id"]) if more else None
    return Page([view(row) for row in rows], cursor)


def _encode_cursor(opened_at: int, last_id: str) -> str:
    return base64.urlsafe_b64encode(f"{opened_at}:{last_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[int, str]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        opened_at, last_id = text.split(":", 1)
        return int(opened_at), last_id
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadRequest(f"invalid cursor {cursor!r}: pass next_cursor of a previous page "
                         "unchanged") from None


def _steps(text: str) -> tuple[str, ...]:
    return tuple(step for step in text.split(",") if step)


def _next_due(deadlines: Mapping[str, int], state: State, escalated: Iterable[str]) -> int | None:
    """The earliest deadline not yet met nor escalated."""
    escalated = set(escalated)
    due = [at for step, at in deadlines.items() if step in SLA_STEPS
           and step not in escalated and not answered(state, step)]
    return min(due) if due else None


def _view(record: Mapping[str, Any]) -> str:
    return orjson.dumps({name: record.get(name) for name in ("title", "summary", "location")}
                        ).decode()


def _summary(row: Mapping[str, Any]) -> dict:
    record = orjson.loads(row["view"])
    return {
        "id": row["id"], "rule": row["rule"], "key": row["alert_key"],
        "severity": row["severity"], "condition": row["condition"], "state": row["chain"],
        "title": record.get("title"), "summary": record.get("summary"),
        "category": row["category"], "location": record.get("location") or {},
        "starts_at": format_timestamp(row["starts_at"]),
        "condition_changed_at": format_timestamp(row["condition_at"]),
        "opened_at": format_timestamp(row["opened_at"]),
        "updated_at": format_timestamp(row["updated_at"]),
        "department": row["department"], "handler": row["handler"],
        "incident_id": row["incident_id"], "inhibited": bool(row["inhibited"]),
        "notified": row["notified"], "escalated": list(_steps(row["escalated"])),
    }


def _incident_view(row: Mapping[str, Any]) -> dict:
    return {"id": row["id"], "category": row["category"], "building": row["building"],
            "severity": row["severity"], "alert_count": row["alert_count"],
            "opened_at": format_timestamp(row["opened_at"]),
            "first_starts_at": format_timestamp(row["first_starts_at"]),
            "last_starts_at": format_timestamp(row["last_starts_at"])}


def _silence(row: Mapping[str, Any]) -> Silence:
    return Silence(row["id"], orjson.loads(row["matchers"]), row["starts_at"], row["ends_at"],
                   row["author"], row["reason"])


def _silence_view(silence: Silence, now: int) -> dict:
    state = ("active" if silence.active(now)
             else "pending" if now < silence.starts_at else "expired")
    return {"id": silence.id, "matchers": dict(silence.matchers),
            "starts_at": format_timestamp(silence.starts_at),
            "ends_at": format_timestamp(silence.ends_at), "author": silence.author,
            "reason": silence.reason, "state": state}


def without_contacts(evidence: Iterable[Mapping[str, Any]]) -> list[dict]:
    """Evidence with the reporters' contact details removed (for the feed and webhooks)."""
    return [{name: value for name, value in item.items() if name != "reporter"}
            for item in evidence]
