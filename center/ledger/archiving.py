"""Archiving: finished alerts, with their whole view, out of the ledger into a file the caller
keeps, in batches deleted only once the caller has them."""
from __future__ import annotations

from collections.abc import Callable

from center import contacts as contacts_of

__all__ = ["Archiving"]


class Archiving:
    """(A part of `Ledger`.)"""

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
            self._changed()
