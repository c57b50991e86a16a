"""Versioned schema migrations of the ledger, applied in order and recorded in schema_migrations.

A migration is never edited once released: a change to the schema is a new migration. SQL is
written once for both databases; `{serial}` is the only spelling that differs.
"""
from __future__ import annotations

from typing import NamedTuple

__all__ = ["Migration", "MIGRATIONS"]

_SERIAL = {"sqlite": "INTEGER PRIMARY KEY AUTOINCREMENT", "postgres": "BIGSERIAL PRIMARY KEY"}


class Migration(NamedTuple):
    version: int
    name: str
    sql: str

    def statements(self, dialect: str) -> list[str]:
        text = self.sql.format(serial=_SERIAL[dialect])
        return [statement.strip() for statement in text.split(";") if statement.strip()]


MIGRATIONS = [
    Migration(1, "alerts, chain history, incidents, silences, tokens, notification outbox", """
CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    rule TEXT NOT NULL,
    alert_key TEXT NOT NULL,
    severity TEXT NOT NULL,
    condition TEXT NOT NULL,
    chain TEXT NOT NULL,
    category TEXT,
    district TEXT,
    street TEXT,
    community TEXT,
    grid TEXT,
    building TEXT,
    starts_at BIGINT NOT NULL,
    condition_at BIGINT NOT NULL,
    opened_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    department TEXT,
    escalate_to TEXT,
    handler TEXT,
    incident_id TEXT,
    inhibited INTEGER NOT NULL DEFAULT 0,
    notified TEXT NOT NULL DEFAULT 'none',
    escalated TEXT NOT NULL DEFAULT '',
    next_due BIGINT,
    remind_at BIGINT,
    verdict TEXT,
    satisfaction INTEGER,
    corrected_category TEXT,
    view TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX alerts_by_opening ON alerts (opened_at, id);
CREATE INDEX alerts_by_condition ON alerts (condition, notified);
CREATE INDEX alerts_by_chain ON alerts (chain);
CREATE INDEX alerts_by_rule ON alerts (rule, condition);
CREATE INDEX alerts_due ON alerts (next_due);
CREATE INDEX alerts_reminders ON alerts (remind_at);
CREATE INDEX alerts_by_incident ON alerts (incident_id);
CREATE INDEX alerts_by_building ON alerts (building, condition);
CREATE TABLE alert_events (
    seq {serial},
    alert_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    dedupe TEXT UNIQUE,
    published INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX alert_events_by_alert ON alert_events (alert_id, seq);
CREATE INDEX alert_events_unpublished ON alert_events (published, seq);
CREATE TABLE incidents (
    id TEXT PRIMARY KEY,
    group_key TEXT NOT NULL,
    category TEXT,
    building TEXT,
    severity TEXT NOT NULL,
    opened_at BIGINT NOT NULL,
    first_starts_at BIGINT NOT NULL,
    last_starts_at BIGINT NOT NULL,
    alert_count INTEGER NOT NULL
);
CREATE INDEX incidents_by_group ON incidents (group_key, last_starts_at);
CREATE INDEX incidents_by_opening ON incidents (opened_at, id);
CREATE TABLE silences (
    id TEXT PRIMARY KEY,
    matchers TEXT NOT NULL,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    author TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);
CREATE TABLE notifications (
    id {serial},
    target TEXT NOT NULL,
    alert_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    last_error TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX notifications_due ON notifications (status, next_attempt_at);
CREATE INDEX notifications_by_alert ON notifications (alert_id, target, id)
"""),
    Migration(2, "token revocation", """
ALTER TABLE tokens ADD COLUMN revoked_at BIGINT
"""),
    Migration(3, "reporters' contact details, apart from the alerts", """
CREATE TABLE contacts (
    report_id TEXT PRIMARY KEY,
    reporter TEXT,
    text TEXT,
    received_at BIGINT NOT NULL
);
CREATE INDEX contacts_by_arrival ON contacts (received_at);
CREATE TABLE contact_refs (
    alert_id TEXT NOT NULL,
    report_id TEXT NOT NULL,
    PRIMARY KEY (alert_id, report_id)
);
CREATE INDEX contact_refs_by_report ON contact_refs (report_id)
"""),
    Migration(4, "token expiry", """
ALTER TABLE tokens ADD COLUMN expires_at BIGINT
"""),
    Migration(5, "tokens scoped to an area", """
ALTER TABLE tokens ADD COLUMN scope_level TEXT;
ALTER TABLE tokens ADD COLUMN scope_value TEXT
"""),
    Migration(6, "Open311 service requests and the alerts they raised", """
CREATE TABLE service_requests (
    id TEXT PRIMARY KEY,
    service_code TEXT NOT NULL,
    description TEXT NOT NULL,
    address TEXT,
    address_id TEXT,
    lat DOUBLE PRECISION,
    lon DOUBLE PRECISION,
    media_url TEXT,
    requested_at BIGINT NOT NULL
);
CREATE INDEX service_requests_by_time ON service_requests (requested_at);
CREATE TABLE service_request_alerts (
    request_id TEXT NOT NULL,
    alert_id TEXT NOT NULL,
    PRIMARY KEY (request_id, alert_id)
)
"""),
]
