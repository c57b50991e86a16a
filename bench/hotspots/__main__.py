"""Hotspots in real citizen messages (TipDM 2020 Attachment 3, 4,326 messages, 2019-2020).

    python bench/hotspots [--data PATH] [--pack bench/hotspots/pack.yaml] [--top 15]

Every message goes through the engine as a report (title and text as its text, its district as
its location, in time order) with the pack in `pack.yaml`: the report reader groups each
district's messages into topics by their words, and the pack's hotspot rule raises a warning
when a topic's messages of the last 30 days are many and far above its usual level. Prints the
largest topics (size, period, district, key terms, three sample titles), then every hotspot
warning raised. The data has no labels: the figures are judged by reading them. It stays in
../shared (not redistributable).
"""
from __future__ import annotations

import argparse
import csv
import sys
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from engine.evaluator import Evaluator  # noqa: E402
from engine.events import Event, Location  # noqa: E402
from engine.pack import Pack  # noqa: E402
from engine.timestamps import parse_timestamp  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "reports" / "tipdm2020_hotspot_messages.csv"
_TEXT_CHARS = 2_000


def events_of(rows: list[dict]) -> list[tuple[int, Event]]:
    events = []
    for row in rows:
        t = parse_timestamp(row["created_at"] + "+08:00")
        text = f"{row['title']}。{row['text']}"[:_TEXT_CHARS]
        events.append((t, Event("report", row["message_id"], t, text=text, category="message",
                                location=Location(district=row["district_hint"] or "未知"))))
    return sorted(events, key=lambda pair: pair[0])


def day(t: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(t / 1000 + 8 * 3600))


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench/hotspots", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--pack", type=Path, default=HERE / "pack.yaml")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    with args.data.open(encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    titles = {row["message_id"]: row["title"] for row in rows}
    events = events_of(rows)
    evaluator = Evaluator(Pack.load([args.pack]), lateness_ms=0)
    began = time.perf_counter()
    alerts = evaluator.process(events).alerts + evaluator.flush().alerts
    elapsed = time.perf_counter() - began
    print(f"data      {len(rows):,} messages ({args.data.name}), {len(events) / elapsed:,.0f} "
          f"reports/s through the engine")

    clusters: dict[tuple[str, str], list[tuple[int, Event]]] = defaultdict(list)
    for t, event in events:
        if event.topic is not None:
            clusters[event.location.district, event.topic].append((t, event))
    sizes = sorted((len(members) for members in clusters.values()), reverse=True)
    print(f"topics    {len(clusters):,}; {sum(size >= 5 for size in sizes)} of 5 messages or "
          f"more, {sum(size >= 20 for size in sizes)} of 20 or more")
    print(f"\nthe {args.top} largest topics")
    for (district, topic), members in sorted(clusters.items(), key=lambda item: -len(item[1]))[
            :args.top]:
        first, last = members[0][0], members[-1][0]
        terms = next((words for name, _, words in evaluator.reader.topics.of(district)
                      if name == topic), [])
        print(f"  {len(members):4}  {day(first)} … {day(last)}  {district}  「{topic}」 "
              + (f"now: {' '.join(terms)}" if terms else "(no report joined it lately)"))
        for _, event in members[:3]:
            print(f"          {titles[event.id][:60]}")

    fired = [alert for alert in alerts if alert["change"] == "fired"]
    print(f"\nhotspot warnings raised: {len(fired)}")
    for alert in fired:
        district, topic = alert["key"].split("/", 1)
        at = parse_timestamp(alert["at"])
        members = clusters[district, topic]
        print(f"  {alert['at'][:10]}  {district}  「{topic}」: {sum(t <= at for t, _ in members)}"
              f" of the topic's {len(members)} messages so far; latest: "
              f"{titles[alert['evidence'][-1]['id']][:50]}")


if __name__ == "__main__":
    main()
