"""A city's worth of rules: `ewe replay`'s rate as the pack grows, with and without the index.

    python bench/rules_scale.py [--packs shipped,x10,...] [--devices 2000] [--memory]

One simulated city (2,000 devices, 40 grids, six hours) replayed through packs generated from
the shipped rules: the shipped pack; ×10 and ×50 copies (ids renamed); one copy per grid with
`match: {location.grid: G}` over the city's 40 grids and over 400 (the city's 40 and 360 more);
one copy per district. Each pack runs in a process of its own (resident memory is the process's
peak), once with the dispatch index and once with the scanning evaluator (routing by kind and
type or category, every other condition tested rule by rule), and the two outputs are compared
byte for byte. Rates are shown against the shipped pack's with the index, measured in the same
run; the machine's speed varies over a day, so only the ratios carry from one run to another.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import orjson
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.evaluator import Evaluator  # noqa: E402
from engine.pack import Pack  # noqa: E402
from engine.rulefile import rule_files  # noqa: E402
from engine.simulation import simulate  # noqa: E402
from engine.simulation.city import build_city  # noqa: E402
from engine.tuning import tune_gc  # noqa: E402
from ewe.replay import replay  # noqa: E402

CACHE = Path(__file__).resolve().parent / ".cache"
PACKS = ("shipped", "x10", "x50", "grid40", "grid400", "district")


def city_file(devices: int) -> Path:
    path = CACHE / f"rules-scale-city-{devices}.jsonl"
    if not path.exists():
        CACHE.mkdir(exist_ok=True)
        run = simulate(seed=42, devices=devices)
        with open(path, "wb") as out:
            out.writelines(orjson.dumps(event) + b"\n" for event in run.events)
    return path


class _Loader(yaml.SafeLoader):
    """YAML 1.2 booleans, as the rule loader reads them: `on:` is a key, not `true`."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(
    r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def shipped_documents() -> dict[str, dict]:
    return {path.name: yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506
            for path in rule_files([ROOT / "rules"])}


def variants(documents: dict[str, dict], copies: list[tuple[str, dict]]) -> dict[str, str]:
    """One file per copy: each rule renamed with the copy's suffix and its `match` widened by
    the copy's conditions. The first copy's files keep what is not rules (models, categories)."""
    texts = {}
    for number, (suffix, match) in enumerate(copies):
        for name, document in documents.items():
            rules = [widened(rule, suffix, match) for rule in document.get("rules", [])]
            copy = {"rules": rules} if number else {**document, "rules": rules}
            if copy["rules"] or number == 0:
                texts[f"{suffix}-{name}"] = yaml.safe_dump(copy, allow_unicode=True)
    return texts


def widened(rule: dict, suffix: str, match: dict) -> dict:
    if "sequence" in rule:
        return dict(rule, id=f"{rule['id']}.{suffix}", sequence=[
            dict(step, match={**step.get("match", {}), **match}) for step in rule["sequence"]])
    return dict(rule, id=f"{rule['id']}.{suffix}", match={**rule.get("match", {}), **match})


def pack_texts(name: str, devices: int) -> dict[str, str]:
    documents = shipped_documents()
    city = build_city(random.Random(42), devices)
    grids = sorted({grid["grid"] for grid in city.grids})
    districts = sorted({grid["district"] for grid in city.grids})
    if name == "shipped":
        return {path.name: path.read_text(encoding="utf-8")
                for path in rule_files([ROOT / "rules"])}
    if name in ("x10", "x50"):
        return variants(documents, [(f"v{n}", {}) for n in range(int(name[1:]))])
    if name.startswith("grid"):
        wanted = int(name[4:])
        made_up = [f"ZZ-{n:04d}" for n in range(wanted - len(grids))]
        return variants(documents, [(grid.lower(), {"location.grid": grid})
                                    for grid in (grids + made_up)[:wanted]])
    if name == "district":
        return variants(documents, [(f"d{n}", {"location.district": district})
                                    for n, district in enumerate(districts)])
    raise SystemExit(f"unknown pack {name!r}; packs are {', '.join(PACKS)}")


def measure(name: str, devices: int, scan: bool) -> dict:
    """Replay the city through one pack in this process."""
    started = time.perf_counter()
    pack = Pack.from_texts(pack_texts(name, devices))
    loaded = time.perf_counter() - started
    tune_gc()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    evaluator = Evaluator(pack, scan=scan)
    digest = hashlib.sha256()

    def emit(alerts: list) -> None:
        for alert in alerts:
            digest.update(orjson.dumps(alert) + b"\n")

    with open(city_file(devices), "rb") as lines:
        wall, cpu = time.perf_counter(), time.process_time()
        counts = replay(lines, evaluator, emit)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"pack": name, "scan": scan, "rules": len(pack), "events": counts.lines,
            "seconds": wall, "cpu": cpu, "load_seconds": loaded,
            "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "rss_before_mib": before / 1024, "digest": digest.hexdigest(),
            "reached": sum(evaluator.evaluations.values()) / max(counts.lines, 1),
            "index_nodes": evaluator.index.nodes()}


def traced(name: str, devices: int) -> dict:
    """Memory by tracemalloc: what the pack and its evaluator hold, then what a replay leaves
    held per key (windows, episodes, evidence, timers, the index's memo, the models' keys)."""
    import gc
    import tracemalloc

    texts = pack_texts(name, devices)
    Evaluator(Pack.load([ROOT / "rules"]))   # loads what every pack shares (the dictionary)
    gc.collect()
    tracemalloc.start()
    pack = Pack.from_texts(texts)
    evaluator = Evaluator(pack)
    gc.collect()
    built = tracemalloc.get_traced_memory()[0]
    with open(city_file(devices), "rb") as lines:
        replay(lines, evaluator, lambda alerts: None)
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - built
    tracemalloc.stop()
    stats = evaluator.stats()
    return {"rules": len(pack), "built": built,
            "per_key": held / (stats["keys"] + stats["model_keys"])}


def in_child(name: str, devices: int, scan: bool, flags: tuple[str, ...] = ()) -> dict:
    command = [sys.executable, __file__, "--one", name, "--devices", str(devices), *flags]
    output = subprocess.run(command + (["--scan"] if scan else []), check=True,
                            capture_output=True, text=True).stdout
    return json.loads(output)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packs", default=",".join(PACKS))
    parser.add_argument("--devices", type=int, default=2_000)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--scan", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--memory", action="store_true",
                        help="also trace memory per rule and per key (three times slower)")
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        result = traced(args.one, args.devices) if args.traced else measure(
            args.one, args.devices, args.scan)
        print(json.dumps(result))
        return
    city_file(args.devices)
    rows = []
    for name in args.packs.split(","):
        rows.append((in_child(name, args.devices, False), in_child(name, args.devices, True)))
    base = next((index for index, _ in rows if index["pack"] == "shipped"), rows[0][0])
    base_rate = base["events"] / base["cpu"]
    print(f"{base['events']:,} events, {args.devices:,} devices; rates are events per CPU second")
    print(f"{'pack':<10}{'rules':>7}{'reached':>9}{'indexed/s':>11}{'of shipped':>12}"
          f"{'scanning/s':>12}{'speed-up':>10}{'RSS MiB':>9}{'load s':>8}  output")
    for index, scanning in rows:
        rate, scan_rate = index["events"] / index["cpu"], scanning["events"] / scanning["cpu"]
        same = "identical" if index["digest"] == scanning["digest"] else "DIFFERENT"
        print(f"{index['pack']:<10}{index['rules']:>7,}{index['reached']:>9.1f}{rate:>11,.0f}"
              f"{rate / base_rate:>12.0%}{scan_rate:>12,.0f}{rate / scan_rate:>9.1f}×"
              f"{index['rss_mib']:>9,.0f}{index['load_seconds']:>8.1f}  {same}")
    if args.memory:
        print(f"\n{'pack':<10}{'held MiB':>10}{'bytes/rule':>12}{'bytes/key':>11}  (tracemalloc: "
              "pack and evaluator; per rule beyond the shipped pack; per key after the replay)")
        shipped = in_child("shipped", args.devices, False, ("--traced",))
        for name in args.packs.split(","):
            memory = shipped if name == "shipped" else in_child(name, args.devices, False,
                                                                ("--traced",))
            extra = memory["rules"] - shipped["rules"]
            per_rule = f"{(memory['built'] - shipped['built']) / extra:,.0f}" if extra else "-"
            print(f"{name:<10}{memory['built'] / 2 ** 20:>10,.1f}{per_rule:>12}"
                  f"{memory['per_key']:>11,.0f}")

if __name__ == "__main__":
    main()
