"""The pipeline's Prometheus metrics, in a registry of their own (no process-wide globals).

Labels stay bounded: kind, source (the ingest path), reason, rule, severity, status, partition;
never a device, an event or an alert id. Counters are increased once per batch, not per event.
"""
from __future__ import annotations

from collections import Counter as Tally

from faust.sensors.monitor import Monitor
from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from engine.events import parse_timestamp

__all__ = ["PipelineMetrics", "faust_monitor", "CONTENT_TYPE_LATEST"]

# A `_created` series beside every counter and histogram doubles what is scraped and stored
# for a timestamp no ewe dashboard or rule reads. The switch is the library's, process-wide.
disable_created_metrics()

# Event time to emission: from tens of milliseconds (a live threshold) to hours (an absence
# decided late, a backfill).
_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900,
                    3600, 86400)


class PipelineMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.events = Counter("ewe_events_total", "Events accepted for evaluation.",
                              ["kind", "source"], registry=r)
        self.records = Counter("ewe_records_total", "Kafka records (event batches) consumed.",
                               ["topic"], registry=r)
        self.dead_letters = Counter("ewe_dead_letters_total",
                                    "Events or records sent to the dead-letter topic.",
                                    ["reason"], registry=r)
        self.late = Counter("ewe_late_events_total",
                            "Events older than their partition's watermark (dead-lettered).",
                            registry=r)
        self.duplicates = Counter("ewe_duplicate_events_total",
                                  "Events dropped as a repeat of one with the same time and id "
                                  "(a producer's retry).", registry=r)
        self.evaluations = Counter("ewe_rule_evaluations_total",
                                   "Events evaluated by each rule.", ["rule"], registry=r)
        self.firings = Counter("ewe_rule_firings_total", "Alert episodes fired by each rule.",
                               ["rule"], registry=r)
        self.rule_errors = Counter("ewe_rule_errors_total",
                                   "Rules and models quarantined in a partition after failing "
                                   "at run time.", ["rule"], registry=r)
        self.alerts = Counter("ewe_alert_records_total",
                              "Alert records emitted (fired, escalated, resolved).",
                              ["severity", "status"], registry=r)
        self.latency = Histogram("ewe_event_to_alert_latency_seconds",
                                 "Wall time of emission minus the event time of the alert change.",
                                 buckets=_LATENCY_BUCKETS, registry=r)
        self.lag = Gauge("ewe_consumer_lag_records",
                         "Records in the input topic not yet processed.", ["partition"],
                         registry=r)
        self.watermark_delay = Gauge("ewe_watermark_delay_seconds",
                                     "Wall clock minus the partition's watermark.",
                                     ["partition"], registry=r)
        self.active_keys = Gauge("ewe_active_keys", "Keys with rule state, per partition.",
                                 ["partition"], registry=r)
        self.pending = Gauge("ewe_buffered_events",
                             "Events waiting in the reorder buffer for the watermark.",
                             ["partition"], registry=r)
        self.reports_unread = Gauge(
            "ewe_reports_unread", "Reports the report reader failed on since this process "
            "took the partition (they reach the rules as they came, without category, problem "
            "or topic); anything above 0 is a bug to report.", ["partition"], registry=r)
        self.checkpoints = Counter("ewe_checkpoints_total", "Partition checkpoints written.",
                                   registry=r)
        self.checkpoint_seconds = Histogram(
            "ewe_checkpoint_pause_seconds",
            "Time the partition's stream stood still while its state was taken.",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5), registry=r)
        self.checkpoint_bytes = Gauge("ewe_checkpoint_bytes", "Size of the last checkpoint.",
                                      ["partition"], registry=r)
        self.rule_packs = Counter("ewe_rule_packs_total",
                                  "Rule packs received on the rules topic, by outcome.",
                                  ["outcome"], registry=r)
        self.rules_active = Gauge("ewe_rules_active", "Rules in the active pack.", registry=r)
        self.rule_verdicts = Gauge("ewe_rule_verdicts",
                                   "Alerts of a rule judged by operators, by latest verdict.",
                                   ["rule", "verdict"], registry=r)
        self.rule_precision = Gauge("ewe_rule_precision",
                                    "True positives over judged alerts of a rule (0 to 1).",
                                    ["rule"], registry=r)
        self.detector_feedback = Counter(
            "ewe_detector_feedback_total",
            "False positives handed to the anomaly models, by whether a model learned from it.",
            ["outcome"], registry=r)
        self.category_corrections = Counter(
            "ewe_category_corrections_total",
            "Operators' category corrections handed to the report classifiers, by whether one "
            "learned from it (not when the rule pack does not classify reports).",
            ["outcome"], registry=r)
        self.contacts = Counter("ewe_contacts_total",
                                "Reporters' contact details taken off reports at the ingest: "
                                "kept in the ledger, or dropped without one.", ["outcome"],
                                registry=r)
        self.ingested = Counter("ewe_ingest_events_total",
                                "Events received by the HTTP and MQTT ingest, by outcome.",
                                ["source", "outcome"], registry=r)

    def count_alerts(self, records: list[dict], now_ms: int) -> None:
        if not records:
            return
        by_class: Tally = Tally()
        fired: Tally = Tally()
        observe = self.latency.observe
        for record in records:
            by_class[record["severity"], record["status"]] += 1
            if record["change"] == "fired":
                fired[record["rule"]] += 1
            observe(max(0.0, (now_ms - parse_timestamp(record["at"])) / 1000))
        for (severity, status), count in by_class.items():
            self.alerts.labels(severity, status).inc(count)
        for rule, count in fired.items():
            self.firings.labels(rule).inc(count)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def faust_monitor(registry: CollectorRegistry) -> PrometheusMonitor:
    """Faust's own sensors (records, commits, sends, rebalances, assignments), prefixed `faust_`,
    named and typed as Prometheus wants: timings in seconds with the unit in the name, counts
    as counters, what rises and falls as gauges."""
    r = registry

    def seconds(name: str, help_text: str) -> _Milliseconds:
        return _Milliseconds(Histogram(f"faust_{name}_seconds", help_text,
                                       buckets=_FAUST_BUCKETS, registry=r))

    return _FaustMonitor(metrics=FaustMetrics(
        messages_received=Counter("faust_messages_received_total", "Records received.",
                                  registry=r),
        active_messages=Gauge("faust_active_messages", "Records being processed.", registry=r),
        messages_received_per_topics=Counter("faust_topic_messages_received_total",
                                             "Records received, by topic.", ["topic"],
                                             registry=r),
        messages_received_per_topics_partition=Gauge(
            "faust_partition_received_offset", "The last offset received, by partition.",
            ["topic", "partition"], registry=r),
        events_runtime_latency=Histogram(
            "faust_events_runtime_seconds", "Time an agent spent on one record.",
            buckets=_FAUST_BUCKETS, registry=r),
        total_events=Counter("faust_stream_events_total", "Records handed to streams.",
                             registry=r),
        total_active_events=Gauge("faust_stream_active_events", "Records in streams now.",
                                  registry=r),
        total_events_per_stream=Counter("faust_stream_events_by_stream_total",
                                        "Records handed to streams, by stream.", ["stream"],
                                        registry=r),
        table_operations=Counter("faust_table_operations_total", "Table reads and writes.",
                                 ["table", "operation"], registry=r),
        topic_messages_sent=Counter("faust_topic_messages_sent_total",
                                    "Records sent, by topic.", ["topic"], registry=r),
        total_sent_messages=Counter("faust_messages_sent_total", "Records sent.", registry=r),
        producer_send_latency=seconds("producer_send", "Time to send one record."),
        total_error_messages_sent=Counter("faust_send_errors_total",
                                          "Records the producer failed to send.", registry=r),
        producer_error_send_latency=seconds("producer_send_error",
                                            "Time until a send failed."),
        assignment_operations=Counter("faust_assignments_total",
                                      "Partition assignments, completed or failed.",
                                      ["operation"], registry=r),
        assign_latency=seconds("assignment", "Time to take a partition assignment."),
        total_rebalances=Gauge("faust_rebalances_in_progress", "Rebalances under way.",
                               registry=r),
        total_rebalances_recovering=Gauge("faust_rebalances_recovering",
                                          "Rebalances whose tables are recovering.",
                                          registry=r),
        rebalance_done_consumer_latency=seconds("rebalance_consumer",
                                                "Time until the consumer rejoined."),
        rebalance_done_latency=seconds("rebalance", "Time a rebalance took."),
        count_metrics_by_name=Counter("faust_sensor_counts_total",
                                      "Faust's named counts.", ["metric"], registry=r),
        http_status_codes=Counter("faust_http_responses_total",
                                  "Responses of Faust's web server, by status.",
                                  ["status_code"], registry=r),
        http_latency=seconds("http_request", "Time Faust's web server took per request."),
        topic_partition_end_offset=Gauge("faust_partition_end_offset",
                                         "The end offset of each partition.",
                                         ["topic", "partition"], registry=r),
        topic_partition_offset_commited=Gauge("faust_partition_committed_offset",
                                              "The committed offset of each partition.",
                                              ["topic", "partition"], registry=r),
        consumer_commit_latency=seconds("consumer_commit", "Time to commit offsets.")))


_FAUST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
                  10, 30)


class _Milliseconds:
    """Faust's sensors time in milliseconds; Prometheus's base unit is the second."""

    def __init__(self, histogram: Histogram) -> None:
        self.histogram = histogram

    def observe(self, milliseconds: float) -> None:
        self.histogram.observe(milliseconds / 1000)


class _FaustMonitor(PrometheusMonitor):
    def on_stream_event_out(self, tp, offset, stream, event, state=None) -> None:
        Monitor.on_stream_event_out(self, tp, offset, stream, event, state)
        self._metrics.total_active_events.dec()
        if state is not None:
            self._metrics.events_runtime_latency.observe(self.events_runtime[-1])
