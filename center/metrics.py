"""The center's Prometheus metrics, in a registry of its own (merged into `/metrics`)."""
from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    disable_created_metrics,
    generate_latest,
)

# No `_created` series beside each counter: nothing reads them (the switch is process-wide).
disable_created_metrics()

__all__ = ["CenterMetrics"]


class CenterMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.alert_changes = Counter(
            "ewe_center_alert_changes_total",
            "Alert changes consumed from the workers, by outcome (new, updated, duplicate).",
            ["outcome"], registry=self.registry)
        self.actions = Counter(
            "ewe_center_actions_total", "Chain actions taken, by action.", ["action"],
            registry=self.registry)
        self.refusals = Counter(
            "ewe_center_action_refusals_total",
            "Chain actions refused because the alert's state does not allow them.", ["action"],
            registry=self.registry)
        self.feedback = Counter(
            "ewe_center_feedback_total", "Feedback records, by verdict given (or none).",
            ["verdict"], registry=self.registry)
        self.escalations = Counter(
            "ewe_center_sla_escalations_total", "Missed SLA deadlines escalated.",
            ["severity", "step"], registry=self.registry)
        self.reminders = Counter(
            "ewe_center_sla_reminders_total", "Reminders of escalated alerts nobody acted on.",
            registry=self.registry)
        self.notifications = Counter(
            "ewe_center_notifications_total",
            "Webhook deliveries, by notice kind and outcome (sent, retried, dead).",
            ["kind", "outcome"], registry=self.registry)
        self.published = Counter(
            "ewe_center_chain_events_published_total",
            "Chain events published on the alert-events topic.", registry=self.registry)
        self.alerts = Gauge(
            "ewe_center_alerts", "Alerts in the ledger, by severity and chain state (each "
            "replica reports the whole ledger: aggregate with max).", ["severity", "state"],
            registry=self.registry)
        self.feed_subscribers = Gauge(
            "ewe_center_feed_subscribers", "Clients connected to the live feed.",
            registry=self.registry)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
