"""Exports and the summary: every alert a filter selects, oldest first, with its history."""
from __future__ import annotations

from collections.abc import Iterator

import orjson

from center.exports import STEP_COLUMNS, export_row, summarise
from center.ledger.queries import AlertFilter, clauses_of
from center.ledger.rows import LISTED_COLUMNS

__all__ = ["Reporting"]

_STEP_KINDS = ", ".join(f"'{kind}'" for kind in STEP_COLUMNS)


class Reporting:
    """The ledger's reports (a part of `Ledger`). Each batch is read in a transaction of its
    own, so an export of a year does not hold the ledger."""

    def export(self, where: AlertFilter, timezone: str, *,
               batch: int = 500) -> Iterator[list[dict]]:
        """Batches of export rows (`center.exports.EXPORT_COLUMNS`), by the instant the ledger
        opened each alert."""
        after: tuple[int, str] | None = None
        while True:
            clauses, params = clauses_of(where)
            if after is not None:
                clauses.append("(opened_at > ? OR (opened_at = ? AND id > ?))")
                params += [after[0], after[0], after[1]]
            sql = (f"SELECT {LISTED_COLUMNS} FROM alerts"
                   + (" WHERE " + " AND ".join(clauses) if clauses else "")
                   + " ORDER BY opened_at, id LIMIT ?")
            with self.store.transaction() as tx:
                rows = tx.execute(sql, [*params, batch]).fetchall()
                if not rows:
                    return
                history: dict[str, list] = {row["id"]: [] for row in rows}
                marks = ", ".join("?" * len(rows))
                for event in tx.execute(
                        f"SELECT alert_id, kind, at, data FROM alert_events WHERE alert_id IN "
                        f"({marks}) AND kind IN ({_STEP_KINDS})", list(history)).fetchall():
                    history[event["alert_id"]].append(
                        (event["kind"], event["at"], orjson.loads(event["data"])))
            yield [export_row(row, history[row["id"]], timezone) for row in rows]
            after = (rows[-1]["opened_at"], rows[-1]["id"])

    def summary(self, where: AlertFilter, timezone: str) -> dict:
        """Per department and category, and over everything the filter selects."""
        return summarise(row for batch in self.export(where, timezone) for row in batch)
