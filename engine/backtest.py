"""Scoring a replay against what really happened: recall, unmatched alerts and lead time.

The truth is a JSON-lines file of *incidents* (as the simulator writes them, or as an operations
center exports them): `{"type", "category", "start", "end", "location", "devices", "key"}`. An
alert episode *catches* an incident when its `labels.category` is the incident's category, it
points at the same place (one of the incident's devices, its building, or its key) and it fired
between the incident's start and its end plus a grace period. Lines with an `alert_id` and a
`verdict` (`true_positive` / `false_positive`) are operator feedback on single alerts.

>>> truth = [{"type": "fire", "category": "fire", "start": "2026-07-01T08:00:00+08:00",
...           "end": "2026-07-01T08:40:00+08:00", "key": "B0001",
...           "location": {"building": "B0001"}, "devices": ["sm-1"]}]
>>> alerts = [{"id": "a1", "rule": "fire.smoke.alarm", "key": "sm-1", "change": "fired",
...            "at": "2026-07-01T00:01:00.000Z", "labels": {"category": "fire"},
...            "location": {"building": "B0001"}, "evidence": []}]
>>> report = score(alerts, truth)
>>> report.by_type["fire"].recall, report.by_type["fire"].lead_times_s
(1.0, [60.0])
"""
from __future__ import annotations

from dataclasses import dataclass, field
from statistics import median

from engine.events import parse_timestamp

__all__ = ["score", "Report", "TypeScore", "GRACE_MS"]

GRACE_MS = 30 * 60_000


@dataclass
class TypeScore:
    incidents: int = 0
    caught: int = 0
    lead_times_s: list[float] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.caught / self.incidents if self.incidents else 0.0


@dataclass
class Report:
    by_type: dict[str, TypeScore]
    episodes: int
    matched: int
    unmatched_by_rule: dict[str, int]
    feedback_by_rule: dict[str, tuple[int, int]]   # rule -> (true positives, false positives)

    def lines(self) -> list[str]:
        out = [f"{'incident type':<20}{'incidents':>10}{'caught':>8}{'recall':>8}"
               f"{'lead p50':>10}{'lead max':>10}"]
        for kind, result in sorted(self.by_type.items()):
            leads = result.lead_times_s
            out.append(f"{kind:<20}{result.incidents:>10}{result.caught:>8}"
                       f"{result.recall:>8.0%}{_seconds(median(leads) if leads else None):>10}"
                       f"{_seconds(max(leads) if leads else None):>10}")
        total = sum(r.incidents for r in self.by_type.values())
        caught = sum(r.caught for r in self.by_type.values())
        out.append(f"{'all':<20}{total:>10}{caught:>8}{(caught / total if total else 0):>8.0%}")
        out.append(f"alert episodes: {self.episodes}, linked to an incident: {self.matched}, "
                   f"unmatched: {self.episodes - self.matched}")
        for rule, count in sorted(self.unmatched_by_rule.items(), key=lambda x: (-x[1], x[0])):
            out.append(f"  unmatched {rule:<40}{count:>6}")
        for rule, (true, false) in sorted(self.feedback_by_rule.items()):
            out.append(f"  feedback  {rule:<40} precision {true / (true + false):.0%} "
                       f"({true} true, {false} false)")
        return out


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}s" if value < 600 else f"{value / 60:.0f}m"


def score(alerts: list[dict], truth: list[dict]) -> Report:
    """Compare alert records (as `ewe replay` writes them) with the truth records."""
    episodes: dict[str, dict] = {}
    for record in alerts:
        if record.get("change") == "fired" and record["id"] not in episodes:
            episodes[record["id"]] = record
    incidents = [item for item in truth if "alert_id" not in item]
    feedback = [item for item in truth if "alert_id" in item]
    by_type: dict[str, TypeScore] = {}
    matched: set[str] = set()
    for incident in incidents:
        result = by_type.setdefault(incident["type"], TypeScore())
        result.incidents += 1
        start = parse_timestamp(incident["start"])
        end = parse_timestamp(incident["end"]) + GRACE_MS
        catching = [(parse_timestamp(e["at"]), alert_id) for alert_id, e in episodes.items()
                    if _same_place(e, incident) and start <= parse_timestamp(e["at"]) <= end
                    and e.get("labels", {}).get("category") == incident["category"]]
        if catching:
            result.caught += 1
            result.lead_times_s.append((min(catching)[0] - start) / 1000)
            matched.update(alert_id for _, alert_id in catching)
    unmatched: dict[str, int] = {}
    for alert_id, episode in episodes.items():
        if alert_id not in matched:
            unmatched[episode["rule"]] = unmatched.get(episode["rule"], 0) + 1
    verdicts: dict[str, tuple[int, int]] = {}
    rule_of = {record["id"]: record["rule"] for record in alerts}
    for item in feedback:
        rule = rule_of.get(item["alert_id"])
        if rule is None:
            continue
        true, false = verdicts.get(rule, (0, 0))
        is_false = item.get("verdict") == "false_positive"
        verdicts[rule] = (true + (not is_false), false + is_false)
    return Report(by_type, len(episodes), len(matched), unmatched, verdicts)


def _same_place(episode: dict, incident: dict) -> bool:
    devices = set(incident.get("devices") or ())
    if episode.get("key") in devices or episode.get("key") == incident.get("key"):
        return True
    if any(item.get("device_id") in devices for item in episode.get("evidence") or ()):
        return True
    building = (incident.get("location") or {}).get("building")
    return building is not None and (episode.get("location") or {}).get("building") == building
