"""Open311 service requests in the ledger: what was posted, and the alerts each one raised."""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson

from center.contacts import link_reports
from center.store import Cursor

__all__ = ["ServiceRequests", "link_requests", "REQUEST_COLUMNS"]

REQUEST_COLUMNS = ("id", "service_code", "description", "address", "address_id", "lat", "lon",
                   "media_url", "requested_at")


def link_requests(tx: Cursor, reports_of: Mapping[str, Iterable[str]]) -> None:
    """Link each alert to the service requests among the reports its evidence names."""
    link_reports(tx, reports_of, "INSERT INTO service_request_alerts (request_id, alert_id) "
                                 "SELECT v.r, v.a FROM v JOIN service_requests s ON s.id = v.r "
                                 "WHERE true ON CONFLICT DO NOTHING")


class ServiceRequests:
    """(A part of `Ledger`.)"""

    def add_request(self, request: Mapping[str, Any]) -> None:
        """Keep a posted request (before its report is published: the alert it raises finds
        it)."""
        with self.store.transaction() as tx:
            tx.execute(f"INSERT INTO service_requests ({', '.join(REQUEST_COLUMNS)}) VALUES "
                       f"({', '.join('?' * len(REQUEST_COLUMNS))})",
                       [request.get(column) for column in REQUEST_COLUMNS])

    def drop_request(self, request_id: str) -> None:
        """Forget a request whose report the ingest did not take."""
        with self.store.transaction() as tx:
            tx.execute("DELETE FROM service_requests WHERE id = ?", (request_id,))

    def service_requests(self, *, ids: Sequence[str] | None = None,
                         service_code: str | None = None, since: int | None = None,
                         until: int | None = None, limit: int = 1000) -> list[dict]:
        """Requests, newest first, each with the alerts it raised (their chain state,
        department, severity, opening, last change and the replies sent to residents)."""
        clauses, params = [], []
        if ids is not None:
            clauses.append(f"id IN ({', '.join('?' * len(ids))})" if ids else "false")
            params += list(ids)
        else:
            for clause, value in (("service_code = ?", service_code),
                                  ("requested_at >= ?", since), ("requested_at < ?", until)):
                if value is not None:
                    clauses.append(clause)
                    params.append(value)
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        with self.store.transaction() as tx:
            rows = tx.execute(f"SELECT * FROM service_requests{where} "
                              "ORDER BY requested_at DESC, id LIMIT ?",
                              [*params, limit]).fetchall()
            found = {row["id"]: {**row, "alerts": []} for row in rows}
            if not found:
                return []
            marks = ", ".join("?" * len(found))
            alerts = tx.execute(
                "SELECT l.request_id, a.id, a.chain, a.department, a.severity, a.opened_at, "
                f"a.updated_at FROM service_request_alerts l JOIN alerts a ON a.id = l.alert_id "
                f"WHERE l.request_id IN ({marks}) ORDER BY a.opened_at, a.id",
                list(found)).fetchall()
            replies: dict[str, list[str]] = {}
            if alerts:
                ids_of_alerts = sorted({alert["id"] for alert in alerts})
                for event in tx.execute(
                        f"SELECT alert_id, data FROM alert_events WHERE kind = 'reply' AND "
                        f"alert_id IN ({', '.join('?' * len(ids_of_alerts))}) ORDER BY seq",
                        ids_of_alerts).fetchall():
                    replies.setdefault(event["alert_id"], []).append(
                        orjson.loads(event["data"]).get("message"))
        for alert in alerts:
            found[alert["request_id"]]["alerts"].append(
                {**alert, "replies": replies.get(alert["id"], [])})
        return list(found.values())
