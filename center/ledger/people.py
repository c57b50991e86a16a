"""What people do to an alert: a chain action (acknowledge, dispatch, resolve, reply, close,
false positive, assign, comment) or feedback, each appended to its history."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from center.errors import BadRequest
from center.ledger.rows import summary, update_alert
from center.sla import next_due, steps
from center.store import Cursor
from engine.chain import ACTIONS, FieldError, State, transition
from engine.events import format_timestamp
from engine.feedback import VERDICTS, report_texts

__all__ = ["ChainActions"]


class ChainActions:
    """(A part of `Ledger`.)"""

    def act(self, alert_id: str, action: str, given: Mapping[str, Any], *, actor: str) -> dict:
        """Apply a chain action; the alert's new view, or ChainError with the reason."""
        with self.store.transaction() as tx:
            now = self.clock()
            row = self._row(tx, alert_id)
            allowed = ACTIONS[action].accepts if action in ACTIONS else ()
            unknown = sorted(set(given) - set(allowed))
            if unknown:
                raise FieldError(f"{action} takes no field {', '.join(map(repr, unknown))}"
                                 + (f"; it takes {', '.join(allowed)}" if allowed else ""))
            recorded = {name: value for name, value in given.items() if value is not None}
            state = transition(State(row["chain"]), action, recorded)
            changes: dict[str, Any] = {"chain": state.value, "updated_at": now,
                                       "remind_at": None}
            if action == "dispatch":
                changes["department"] = recorded["department"]
                if "handler" not in recorded:      # to whoever is on duty there now
                    on_duty = self.duty.on_duty(recorded["department"], now)
                    if on_duty:
                        recorded["handler"] = on_duty[0]
                changes["handler"] = recorded.get("handler")
            elif action == "assign":
                changes["handler"] = recorded["handler"]
            elif action == "false_positive":
                changes["verdict"] = "false_positive"
            if action != "comment":
                deadlines = self.duty.deadlines(row["severity"], row["opened_at"])
                changes["next_due"] = next_due(deadlines, state, steps(row["escalated"]))
            else:
                del changes["remind_at"]
            update_alert(tx, alert_id, changes)
            event = self._append(tx, alert_id, now, actor, action, recorded)
            if action == "reply":
                self._queue_reply(tx, alert_id, recorded["message"], now)
            row.update(changes)
            detail = self._detail(tx, row, now, contacts=True)
        self._publish([{"type": "event", "event": event, "alert": summary(row)}])
        return detail

    def _queue_reply(self, tx: Cursor, alert_id: str, message: str, now: int) -> None:
        """The reply to residents, for every reply channel, in the outbox: delivered with
        retries like any notice, the contacts read only when it is sent."""
        if not self.reply_targets:
            return
        payload = orjson.dumps({"kind": "reply", "alert_id": alert_id, "message": message}
                               ).decode()
        tx.executemany("INSERT INTO notifications (target, alert_id, kind, payload, "
                       "next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                       [(target, alert_id, "reply", payload, now, now)
                        for target in self.reply_targets])

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
            update_alert(tx, alert_id, changes)
            if corrected_category is not None:    # what the workers' classifiers learn from
                given["texts"] = report_texts(orjson.loads(row["body"]))
            event = self._append(tx, alert_id, now, actor, "feedback", given)
            row.update(changes)
            detail = self._detail(tx, row, now, contacts=True)
        self._publish([{"type": "event", "event": event, "alert": summary(row)}])
        return detail

    def _append(self, tx: Cursor, alert_id: str, at: int, actor: str, kind: str,
                data: Mapping[str, Any]) -> dict:
        text = orjson.dumps(data).decode()
        tx.execute("INSERT INTO alert_events (alert_id, at, actor, kind, data) "
                   "VALUES (?, ?, ?, ?, ?)", (alert_id, at, actor, kind, text))
        return {"alert_id": alert_id, "at": format_timestamp(at), "actor": actor, "kind": kind,
                "data": dict(data)}
