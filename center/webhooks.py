"""Outbound webhooks: the notification outbox delivered with retries, signed, dead-lettered.

The ledger queues every notice (firing, resolved, escalation, reminder) in the `notifications`
table in the same transaction as the change that caused it, so a notice is never lost between
the database and the network, and resolved notices travel exactly as reliably as firing ones.
`Deliverer.deliver_due` sends what is due, backs off exponentially on failure, and after the last
attempt marks the notice dead and hands it to `on_dead` (the runtime writes it to the dead-letter
topic).

Four formats: `alertmanager` (the webhook JSON that Alertmanager sends, version 4, so existing
receivers work unchanged), `alertmanager-api` (alerts posted into an Alertmanager, to its API v2
`/api/v2/alerts`, so teams route, silence and page with it as with Prometheus's alerts),
`json` (ewe's own notice, signed with HMAC-SHA256 over `"<timestamp>.<body>"` in
`X-Ewe-Signature: sha256=<hex>`) and `reply` (the reply step's message to each resident who
reported, with their contact, for an SMS gateway or the hotline system: `center.replies`;
the only path that reads contacts, when it sends).

Alertmanager forgets an alert whose `endsAt` has passed, so, as Prometheus does, every alert
still firing is posted again each `resend_ms` with `endsAt` four resends ahead
(`Deliverer.resend_firing`); its resolution is posted through the outbox with the time it ended.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import orjson

from center import contacts as contacts_of
from center.metrics import CenterMetrics
from center.replies import reply_messages
from center.store import Store
from engine.events import AREA_LEVELS, format_timestamp

__all__ = ["Webhook", "Deliverer", "alertmanager_payload", "postable_alert", "signature",
           "FORMATS"]

FORMATS = ("json", "alertmanager", "alertmanager-api", "reply")

_ZERO_TIME = "0001-01-01T00:00:00Z"   # Alertmanager's "no end yet"
_RESEND_CHUNK = 500                    # alerts per POST when resending


@dataclass(frozen=True)
class Webhook:
    name: str
    url: str
    format: Literal["json", "alertmanager", "alertmanager-api", "reply"] = "json"
    secret: str | None = None
    templates: Mapping[str, str] | None = None    # `reply`: language -> text with {message}


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Ewe-Signature` value a receiver recomputes to trust a notice.

    >>> signature("s3cret", "1782864000", b'{}')
    'sha256=9b1fa77454cdacc995a2011e9154eafc07103da88b6561bfb2feec0881dcfd70'
    """
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def _labels(alert: Mapping[str, Any]) -> dict[str, str]:
    location = alert.get("location") or {}
    labels = {"alertname": alert["rule"], "severity": alert["severity"], "key": alert["key"],
              **{name: str(value) for name, value in (alert.get("labels") or {}).items()},
              **{name: str(location[name]) for name in AREA_LEVELS if name in location}}
    if alert.get("category") and "category" not in labels:
        labels["category"] = str(alert["category"])
    return labels


def _annotations(notice: Mapping[str, Any]) -> dict[str, str]:
    alert = notice["alert"]
    summary, title = alert.get("summary") or {}, alert.get("title") or {}
    annotations = {"summary": summary.get("zh") or summary.get("en") or alert["rule"],
                   "notice": notice["kind"], "state": alert["state"]}
    if title:
        annotations["title"] = title.get("zh") or title.get("en") or ""
    if notice.get("step"):
        annotations["sla_step"] = notice["step"]
    return annotations


def postable_alert(notice: Mapping[str, Any], *, external_url: str, now_ms: int,
                   resend_ms: int) -> dict[str, Any]:
    """One alert as Alertmanager's API v2 takes it (`PostableAlert`): ended at its resolution,
    or, while it fires, four resends from now (as Prometheus posts its alerts)."""
    alert = notice["alert"]
    ends = alert["condition_changed_at"] if notice["kind"] == "resolved" else \
        format_timestamp(now_ms + 4 * resend_ms)
    return {"labels": _labels(alert), "annotations": _annotations(notice),
            "startsAt": alert["starts_at"], "endsAt": ends,
            "generatorURL": f"{external_url}/board/#/alert/{alert['id']}"}


def alertmanager_payload(notice: Mapping[str, Any], *, external_url: str) -> dict[str, Any]:
    alert = notice["alert"]
    resolved = notice["kind"] == "resolved"
    labels, annotations = _labels(alert), _annotations(notice)
    status = "resolved" if resolved else "firing"
    receiver = notice.get("receiver") or "ewe"
    return {
        "version": "4", "groupKey": f"{{}}:{{incident=\"{alert['incident_id']}\"}}",
        "truncatedAlerts": 0, "status": status, "receiver": receiver,
        "groupLabels": {"incident": alert["incident_id"]}, "commonLabels": labels,
        "commonAnnotations": annotations, "externalURL": external_url,
        "alerts": [{
            "status": status, "labels": labels, "annotations": annotations,
            "startsAt": alert["starts_at"],
            "endsAt": alert["condition_changed_at"] if resolved else _ZERO_TIME,
            "generatorURL": f"{external_url}/v1/alerts/{alert['id']}",
            "fingerprint": alert["id"]}],
    }


class Deliverer:
    """Sends due notices; `clock` gives milliseconds, so tests drive retries without sleeping."""

    def __init__(self, store: Store, webhooks: Mapping[str, Webhook], *,
                 clock: Callable[[], int], metrics: CenterMetrics, external_url: str,
                 attempts: int = 6, first_backoff_ms: int = 2_000, timeout_s: float = 10.0,
                 resend_ms: int = 60_000,
                 on_dead: Callable[[dict[str, Any]], Any] | None = None) -> None:
        self.store = store
        self.webhooks = dict(webhooks)
        self.clock = clock
        self.metrics = metrics
        self.external_url = external_url.rstrip("/")
        self.attempts = attempts
        self.first_backoff_ms = first_backoff_ms
        self.on_dead = on_dead
        self.resend_ms = resend_ms
        self._resent_at: int | None = None
        self.client = httpx.AsyncClient(timeout=timeout_s)

    async def close(self) -> None:
        await self.client.aclose()

    async def deliver_due(self, limit: int = 100) -> int:
        """Try every due notice once, in order per alert and target; how many were delivered.

        A notice waits while an earlier one of the same alert to the same target is being
        retried, so a receiver never sees `resolved` before `firing`."""
        now = self.clock()
        rows = await asyncio.to_thread(self._due, now, limit)
        queues: dict[tuple[str, str], list[dict]] = {}
        for row in rows:
            queues.setdefault((row["target"], row["alert_id"]), []).append(row)
        delivered = await asyncio.gather(*(self._deliver_in_order(queue, now)
                                           for queue in queues.values()))
        return sum(delivered)

    async def _deliver_in_order(self, queue: list[dict], now: int) -> int:
        for delivered, row in enumerate(queue):
            error = await self._send(row)
            if error is not None:
                await self._failed(row, error, now)
                return delivered
            self.metrics.notifications.labels(row["kind"], "sent").inc()
            await asyncio.to_thread(self._finish, row["id"], "sent", None, row["attempts"] + 1)
        return len(queue)

    async def _failed(self, row: dict, error: str, now: int) -> None:
        attempts = row["attempts"] + 1
        if attempts < self.attempts:
            self.metrics.notifications.labels(row["kind"], "retried").inc()
            retry_at = now + self.first_backoff_ms * 2 ** (attempts - 1)
            await asyncio.to_thread(self._retry, row["id"], error, attempts, retry_at)
            return
        self.metrics.notifications.labels(row["kind"], "dead").inc()
        await asyncio.to_thread(self._finish, row["id"], "dead", error, attempts)
        if self.on_dead is not None:
            await _maybe_await(self.on_dead({
                "reason": "webhook", "target": row["target"], "error": error,
                "attempts": attempts, "notice": orjson.loads(row["payload"])}))

    async def _send(self, row: Mapping[str, Any]) -> str | None:
        """None when the receiver took it, else why not."""
        webhook = self.webhooks.get(row["target"])
        if webhook is None:
            return f"no webhook named {row['target']!r} is configured"
        notice = orjson.loads(row["payload"])
        headers = {"Content-Type": "application/json", "X-Ewe-Delivery": str(row["id"])}
        if webhook.format == "reply":
            return await self._send_replies(webhook, notice, headers)
        if webhook.format == "alertmanager":
            body = orjson.dumps(alertmanager_payload(notice, external_url=self.external_url))
        elif webhook.format == "alertmanager-api":
            body = orjson.dumps([postable_alert(notice, external_url=self.external_url,
                                                now_ms=self.clock(), resend_ms=self.resend_ms)])
        else:
            body = orjson.dumps(notice)
        return await self._post(webhook, body, headers)

    async def _send_replies(self, webhook: Webhook, notice: Mapping[str, Any],
                            headers: dict[str, str]) -> str | None:
        """The reply to each reporter who left a way to reach them (the receiver tells a
        repeat by `X-Ewe-Delivery` and `report_id`); None when all were taken."""
        contacts = await asyncio.to_thread(self._contacts, notice["alert_id"])
        for message in reply_messages(notice["alert_id"], notice["message"], contacts,
                                      webhook.templates or {}):
            error = await self._post(webhook, orjson.dumps(message), headers)
            if error is not None:
                return error
        return None

    async def _post(self, webhook: Webhook, body: bytes, headers: dict[str, str]
                    ) -> str | None:
        headers = dict(headers)
        if webhook.secret:
            timestamp = str(self.clock() // 1000)
            headers["X-Ewe-Timestamp"] = timestamp
            headers["X-Ewe-Signature"] = signature(webhook.secret, timestamp, body)
        try:
            response = await self.client.post(webhook.url, content=body, headers=headers)
        except httpx.HTTPError as error:
            return f"{type(error).__name__}: {error}"
        if response.status_code >= 300:
            return f"HTTP {response.status_code}"
        return None

    def _contacts(self, alert_id: str) -> dict[str, dict[str, Any]]:
        with self.store.transaction() as tx:
            return contacts_of.of_alert(tx, alert_id)

    async def resend_firing(self, firing: Callable[[], list[dict[str, Any]]]) -> int:
        """Post every firing alert again to each Alertmanager target, once per `resend_ms`;
        `firing` gives their notices. How many alerts were posted. A failure is counted and
        waits for the next round: the next resend carries the same alerts."""
        now = self.clock()
        targets = [hook for hook in self.webhooks.values() if hook.format == "alertmanager-api"]
        if not targets or (self._resent_at is not None
                           and now - self._resent_at < self.resend_ms):
            return 0
        self._resent_at = now
        notices = await asyncio.to_thread(firing)
        alerts = [postable_alert(notice, external_url=self.external_url, now_ms=now,
                                 resend_ms=self.resend_ms) for notice in notices]
        posted = 0
        for hook in targets:
            for start in range(0, len(alerts), _RESEND_CHUNK):
                chunk = alerts[start:start + _RESEND_CHUNK]
                try:
                    response = await self.client.post(hook.url, content=orjson.dumps(chunk),
                                                      headers={"Content-Type": "application/json"})
                    ok = response.status_code < 300
                except httpx.HTTPError:
                    ok = False
                self.metrics.notifications.labels("resend", "sent" if ok else "retried").inc(
                    len(chunk))
                posted += len(chunk) if ok else 0
        return posted

    def _due(self, now: int, limit: int) -> list[dict]:
        """Due notices in order, leaving out any with an earlier notice of the same alert and
        target still waiting for its retry."""
        with self.store.transaction() as tx:
            return tx.execute(
                "SELECT * FROM notifications n WHERE n.status = 'pending' "
                "AND n.next_attempt_at <= ? AND NOT EXISTS (SELECT 1 FROM notifications e "
                "WHERE e.status = 'pending' AND e.alert_id = n.alert_id AND e.target = n.target "
                "AND e.id < n.id AND e.next_attempt_at > ?) ORDER BY n.id LIMIT ?",
                (now, now, limit)).fetchall()

    def _finish(self, notification_id: int, status: str, error: str | None,
                attempts: int) -> None:
        with self.store.transaction() as tx:
            tx.execute("UPDATE notifications SET status = ?, last_error = ?, attempts = ? "
                       "WHERE id = ?", (status, error, attempts, notification_id))

    def _retry(self, notification_id: int, error: str, attempts: int, retry_at: int) -> None:
        with self.store.transaction() as tx:
            tx.execute("UPDATE notifications SET attempts = ?, last_error = ?, "
                       "next_attempt_at = ? WHERE id = ?",
                       (attempts, error, retry_at, notification_id))


async def _maybe_await(value: Any) -> None:
    if asyncio.iscoroutine(value):
        await value
