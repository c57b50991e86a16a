"""Residents' contact details and original texts: kept in the ledger, for the reply step only.

The ingest takes a report's `reporter` and, when the engine masked personal data in it, its
original text off the event before anything is published (`keep`); topics, alert records, the
feed and webhooks carry the event without them. When an alert names a report in its evidence,
the ledger links the two (`link`), so the handler's detail view and the reply step find the
contact (`of_alert`), and archiving an alert lets go of the contacts that only it named
(`forget`).

>>> from center.store import open_store
>>> store = open_store("sqlite://:memory:")
>>> keep(store, [Contact("t9", {"phone": "13812345678"}, "请回电13812345678")], now=0)
>>> with store.transaction() as tx:
...     link(tx, {"a1": ["t9", "t10"]})
...     of_alert(tx, "a1")
{'t9': {'reporter': {'phone': '13812345678'}, 'text': '请回电13812345678'}}
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson

from center.store import Cursor, Store
from engine.privacy import Contact

__all__ = ["Contact", "keep", "link", "link_reports", "of_alert", "forget", "forget_unlinked"]

_ROWS_PER_STATEMENT = 500


def keep(store: Store, contacts: Sequence[Contact], *, now: int) -> None:
    """Keep contacts (a report sent again replaces what was kept of it)."""
    if not contacts:
        return
    rows = [(c.report_id, orjson.dumps(c.reporter).decode() if c.reporter else None, c.text, now)
            for c in contacts]
    with store.transaction() as tx:
        tx.executemany("INSERT INTO contacts (report_id, reporter, text, received_at) "
                       "VALUES (?, ?, ?, ?) ON CONFLICT (report_id) DO UPDATE SET "
                       "reporter = excluded.reporter, text = excluded.text", rows)


def link(tx: Cursor, reports_of: Mapping[str, Iterable[str]]) -> None:
    """Link each alert to the kept contacts of the reports its evidence names."""
    link_reports(tx, reports_of, "INSERT INTO contact_refs (alert_id, report_id) SELECT v.a, "
                                 "v.r FROM v JOIN contacts c ON c.report_id = v.r WHERE true "
                                 "ON CONFLICT DO NOTHING")


def link_reports(tx: Cursor, reports_of: Mapping[str, Iterable[str]], insert: str) -> None:
    """Run `insert`, a statement reading (alert, report) pairs from `v(a, r)`, over the pairs
    of `reports_of` (alert id -> the reports its evidence names), a chunk at a time."""
    pairs = sorted({(alert_id, report_id) for alert_id, reports in reports_of.items()
                    for report_id in reports})
    for start in range(0, len(pairs), _ROWS_PER_STATEMENT):
        chunk = pairs[start:start + _ROWS_PER_STATEMENT]
        values = ", ".join(["(?, ?)"] * len(chunk))
        tx.execute(f"WITH v(a, r) AS (VALUES {values}) {insert}",
                   [item for pair in chunk for item in pair])


def of_alert(tx: Cursor, alert_id: str) -> dict[str, dict[str, Any]]:
    """The contacts of the reports an alert names, by report id."""
    rows = tx.execute("SELECT c.report_id, c.reporter, c.text FROM contact_refs r "
                      "JOIN contacts c ON c.report_id = r.report_id WHERE r.alert_id = ? "
                      "ORDER BY c.report_id", (alert_id,)).fetchall()
    return {row["report_id"]: {"reporter": orjson.loads(row["reporter"]) if row["reporter"]
                               else None, "text": row["text"]} for row in rows}


def forget(tx: Cursor, alert_ids: Sequence[str]) -> None:
    """Unlink archived alerts; contacts no other alert names go with them."""
    if not alert_ids:
        return
    marks = ", ".join("?" * len(alert_ids))
    reports = [row["report_id"] for row in tx.execute(
        f"SELECT DISTINCT report_id FROM contact_refs WHERE alert_id IN ({marks})",
        list(alert_ids)).fetchall()]
    tx.execute(f"DELETE FROM contact_refs WHERE alert_id IN ({marks})", list(alert_ids))
    if reports:
        tx.execute(f"DELETE FROM contacts WHERE report_id IN ({', '.join('?' * len(reports))}) "
                   "AND NOT EXISTS (SELECT 1 FROM contact_refs r WHERE r.report_id = "
                   "contacts.report_id)", reports)


def forget_unlinked(tx: Cursor, before: int) -> int:
    """Delete contacts received before `before` that no alert names (reports that raised
    nothing); how many."""
    return tx.execute("DELETE FROM contacts WHERE received_at < ? AND NOT EXISTS (SELECT 1 "
                      "FROM contact_refs r WHERE r.report_id = contacts.report_id)",
                      (before,)).rowcount
