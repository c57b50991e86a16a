"""Recording what the workers raise: each alert change appended to the history (once, whatever
the re-deliveries), the alert opened or updated, grouped into its incident, routed, muted by
silences and inhibitions, and notified."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from center import contacts as contacts_of
from center import grouping, notices
from center.ledger.requests import link_requests
from center.ledger.rows import ROWS_PER_STATEMENT, Writes, summary, view_of
from center.mutes import muted
from center.sla import next_due, steps
from center.store import Cursor
from engine.chain import State
from engine.events import AREA_LEVELS, parse_timestamp
from engine.matchers import field_of, matches
from engine.silence import Silence

__all__ = ["Recording", "IngestResult"]


@dataclass
class IngestResult:
    new: int = 0
    updated: int = 0
    duplicates: int = 0


class Recording:
    """(A part of `Ledger`.)"""

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
            reports_of = {record["id"]: [item["id"] for item in record.get("evidence") or ()
                                         if "text" in item and "id" in item]
                          for record in fresh}
            contacts_of.link(tx, reports_of)
            link_requests(tx, reports_of)
            rows = self._rows(tx, {record["id"] for record in fresh})
            writes = Writes(tx)
            opening = [record for record in fresh if record["id"] not in rows]
            if opening:
                starts = [parse_timestamp(record["starts_at"]) for record in opening]
                window = self.duty.group_window_ms
                keys = sorted({self.duty.group_key(record) for record in opening})
                # Two replicas opening alerts of one group at once would each see no incident
                # and open one: the group's lock (till commit) makes the second wait and find
                # the first's.
                self.store.lock_keys(tx, keys)
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
                                 "alert": summary(row)})
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
        for start in range(0, len(items), ROWS_PER_STATEMENT):
            chunk = items[start:start + ROWS_PER_STATEMENT]
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
        for start in range(0, len(ordered), ROWS_PER_STATEMENT):
            chunk = ordered[start:start + ROWS_PER_STATEMENT]
            rows.update((row["id"], row) for row in tx.execute(
                f"SELECT * FROM alerts WHERE id IN ({', '.join('?' * len(chunk))})"
                f"{self.store.for_update}", chunk).fetchall())
        return rows

    def _open(self, writes: Writes, record: Mapping[str, Any], at: int, now: int,
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
               for level in AREA_LEVELS},
            "starts_at": parse_timestamp(record["starts_at"]), "condition_at": at,
            "opened_at": now, "updated_at": now,
            "department": route.department if route else None,
            "escalate_to": route.escalate_to if route else None,
            # The department's handler on duty now, where it keeps a roster.
            "handler": next(iter(self.duty.on_duty(route.department, now)), None)
            if route else None,
            "incident_id": self._group(writes, record, now),
            "inhibited": int(inhibited),
            "notified": "none", "escalated": "", "next_due": next_due(deadlines, State.open, ()),
            "remind_at": None, "verdict": None, "satisfaction": None, "corrected_category": None,
            "view": view_of(record), "body": orjson.dumps(record).decode(),
        }
        kind = notices.on_open(condition, self._muted(row, record, silences, now))
        if kind is not None:
            self._notify(writes, row, record, kind, now)
            row["notified"] = kind
        writes.new_alerts[row["id"]] = row
        return row

    def _update_condition(self, writes: Writes, row: dict, record: Mapping[str, Any], at: int,
                          now: int, silences: list[Silence]) -> dict:
        if at < row["condition_at"]:
            return row    # an older change delivered late: the history has it, the state not
        changes: dict[str, Any] = {
            "condition": "resolved" if record["change"] == "resolved" else "firing",
            "severity": record["severity"], "condition_at": at, "updated_at": now,
            "view": view_of(record), "body": orjson.dumps(record).decode()}
        if record["severity"] != row["severity"]:
            deadlines = self.duty.deadlines(record["severity"], row["opened_at"])
            changes["next_due"] = next_due(deadlines, State(row["chain"]),
                                            steps(row["escalated"]))
        row = {**row, **changes}
        kind = notices.on_change(row["notified"], record["change"],
                                 muted=self._muted(row, record, silences, now))
        if kind is not None:
            self._notify(writes, row, record, kind, now)
            if kind == "resolved":
                row["notified"] = changes["notified"] = kind
        writes.update_alert(row["id"], changes)
        return row

    def _group(self, writes: Writes, record: Mapping[str, Any], now: int) -> str:
        key = self.duty.group_key(record)
        starts_at = parse_timestamp(record["starts_at"])
        window = self.duty.group_window_ms

        def joinable(incident: Mapping[str, Any]) -> bool:
            return grouping.joinable(incident, starts_at, window=window)

        incident = writes.incidents.get(key)
        if incident is None or not joinable(incident):
            incident = next(filter(joinable, writes.candidates.get(key, ())), None)
        if incident is None:
            incident = grouping.opened(record, key, starts_at=starts_at, now=now)
            writes.new_incidents[incident["id"]] = incident
        else:
            incident = grouping.joined(incident, record, starts_at=starts_at)
            if incident["id"] in writes.new_incidents:
                writes.new_incidents[incident["id"]] = incident
            else:
                added = writes.incident_growth.get(incident["id"], (0, "", 0))[0] + 1
                writes.incident_growth[incident["id"]] = (
                    added, incident["severity"], incident["last_starts_at"])
        writes.incidents[key] = incident
        return incident["id"]

    def _muted(self, row: Mapping[str, Any], record: Mapping[str, Any],
               silences: list[Silence], now: int) -> bool:
        return muted(inhibited=bool(row["inhibited"]), alert=record, silences=silences, now=now)

    def _firing_causes(self, writes: Writes, record: Mapping[str, Any]) -> list[dict]:
        """Firing alerts that may inhibit this one: per inhibit rule whose target it meets,
        those meeting the source with the same values of the `equal` fields."""
        found: list[dict] = []
        for rule in self.duty.inhibit:
            if matches(record, rule.target):
                wanted = {**rule.source, **{path: field_of(record, path) for path in rule.equal}}
                found += [row["record"] for row in writes.firing_where(wanted)]
        return found

    def _refresh_inhibition(self, writes: Writes, cause: Mapping[str, Any], now: int) -> None:
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

    def _notify(self, writes: Writes, row: Mapping[str, Any], record: Mapping[str, Any],
                kind: str, now: int, *, receiver: str | None = None,
                step: str | None = None) -> None:
        """Queue a notice for every webhook; the outbox delivers it with retries."""
        if not self.targets:
            return
        payload = orjson.dumps(notices.notice(kind, summary(row), record,
                                              receiver=receiver or row["department"],
                                              step=step)).decode()
        writes.notices += [(target, row["id"], kind, payload, now, now)
                           for target in self.targets]
