"""What the clock brings: missed SLA deadlines escalated, reminders repeated, and the notices a
mute held back sent once it ends."""
from __future__ import annotations

from typing import Any

import orjson

from center import notices
from center.ledger.rows import Writes, summary, update_alert
from center.sla import next_due, step_to_escalate, steps
from engine.chain import State
from engine.events import format_timestamp

__all__ = ["Scheduling"]

_SCHEDULER_LOCK = 7407


class Scheduling:
    """(A part of `Ledger`.)"""

    def tick(self) -> dict[str, Any]:
        """Escalate missed SLA deadlines, repeat reminders, and send the notices that a silence
        or an inhibition held back and that are due now. Counts of each, and the (severity,
        step) of every escalation."""
        counts: dict[str, Any] = {"escalations": 0, "reminders": 0, "released": 0,
                                  "escalated": []}
        feed: list[dict] = []
        with self.store.transaction() as tx:
            if not self.store.try_lock(tx, _SCHEDULER_LOCK):   # one replica at a time
                return counts
            now = self.clock()
            silences = self._active_silences(tx, now)
            writes = Writes(tx)
            for row in tx.execute("SELECT * FROM alerts WHERE next_due <= ?",
                                  (now,)).fetchall():
                record = orjson.loads(row["body"])
                if row["condition"] == "resolved" and row["chain"] == State.open.value:
                    # Cleared before anyone looked: shown as such, not escalated.
                    update_alert(tx, row["id"], {"next_due": None})
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
                changes = {"remind_at": now + self.duty.reminder_ms}
                handler = self._next_on_duty(row, now)
                data: dict[str, Any] = {"escalate_to": row["escalate_to"]}
                if handler is not None:        # the roster's next, before the chain above
                    changes["handler"] = data["handler"] = handler
                update_alert(tx, row["id"], changes)
                row = {**row, **changes}
                self._notify(writes, row, record, "reminder", now, receiver=row["escalate_to"])
                feed.append({"type": "event", "alert": summary(row), "event": self._append(
                    tx, row["id"], now, "center", "reminder", data)})
                counts["reminders"] += 1
            for row in tx.execute("SELECT * FROM alerts WHERE condition = 'firing' "
                                  "AND notified = 'none'").fetchall():
                record = orjson.loads(row["body"])
                kind = notices.on_tick(row["condition"], row["notified"],
                                       muted=self._muted(row, record, silences, now))
                if kind is None:
                    continue
                self._notify(writes, row, record, kind, now)
                update_alert(tx, row["id"], {"notified": kind})
                counts["released"] += 1
            writes.flush()
        self._publish(feed)
        return counts

    def _escalate(self, writes: Writes, row: dict, record: dict, now: int) -> dict:
        tx = writes.tx
        deadlines = self.duty.deadlines(row["severity"], row["opened_at"])
        state = State(row["chain"])
        step = step_to_escalate(deadlines, state, steps(row["escalated"]))
        escalated = steps(row["escalated"]) + (step,)
        changes = {"escalated": ",".join(escalated), "updated_at": now,
                   "next_due": next_due(deadlines, state, escalated),
                   "remind_at": now + self.duty.reminder_ms}
        handler = self._next_on_duty(row, now)
        if handler is not None:
            changes["handler"] = handler
        update_alert(tx, row["id"], changes)
        row = {**row, **changes}
        self._notify(writes, row, record, "escalation", now, receiver=row["escalate_to"],
                     step=step)
        data = {"step": step, "deadline": format_timestamp(deadlines[step]),
                "severity": row["severity"], "escalate_to": row["escalate_to"]}
        if handler is not None:
            data["handler"] = handler
        event = self._append(tx, row["id"], now, "center", "sla_missed", data)
        return {"type": "event", "event": event, "alert": summary(row)}

    def _next_on_duty(self, row: dict, now: int) -> str | None:
        """Who of the alert's department takes over from its handler: the next on duty after
        them in the roster; None once the roster is through (then only the department
        above is told) or where the department keeps none."""
        on_duty = self.duty.on_duty(row["department"], now)
        if row["handler"] not in on_duty:
            return on_duty[0] if on_duty else None
        following = on_duty[on_duty.index(row["handler"]) + 1:]
        return following[0] if following else None

