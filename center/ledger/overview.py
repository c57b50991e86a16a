"""What the board shows beside the list: counts, the area tree with its worst colours, and each
rule's record (firings, what is open, what feedback says of it)."""
from __future__ import annotations

from typing import Any

import orjson

from center.ledger.queries import LIVE_STATES, AlertFilter, clauses_of
from engine.chain import State
from engine.events import AREA_LEVELS
from engine.lifecycle import Level

__all__ = ["Overview", "area_tree"]

_TREE_LEVELS = AREA_LEVELS[:4]          # district › street › community › grid
_POINTS = 10_000                       # open alerts drawn on the scatter, at most


class Overview:
    """(A part of `Ledger`.)"""

    def counts(self, where: AlertFilter) -> dict[str, Any]:
        """How many alerts the filter selects, by colour and by chain state."""
        clauses, params = clauses_of(where)
        sql = "SELECT severity, chain, COUNT(*) AS n FROM alerts" + _where(clauses)
        with self.store.transaction() as tx:
            rows = tx.execute(sql + " GROUP BY severity, chain", params).fetchall()
        by_severity = dict.fromkeys((level.name for level in reversed(Level)), 0)
        by_state = dict.fromkeys((state.value for state in State), 0)
        for row in rows:
            by_severity[row["severity"]] = by_severity.get(row["severity"], 0) + row["n"]
            by_state[row["chain"]] = by_state.get(row["chain"], 0) + row["n"]
        return {"total": sum(by_state.values()), "severity": by_severity, "state": by_state}

    def tally(self) -> list[tuple[str, str, int]]:
        """Every alert of the ledger counted by (severity, chain state), for the metrics."""
        with self.store.transaction() as tx:
            rows = tx.execute("SELECT severity, chain, COUNT(*) AS n FROM alerts "
                              "GROUP BY severity, chain").fetchall()
        return [(row["severity"], row["chain"], row["n"]) for row in rows]

    def areas(self, where: AlertFilter) -> dict[str, Any]:
        """The area tree of the alerts the filter selects, and where they are (those whose
        location has lat/lon, the first `_POINTS` of them by severity)."""
        clauses, params = clauses_of(where)
        levels = ", ".join(_TREE_LEVELS)
        with self.store.transaction() as tx:
            rows = tx.execute(f"SELECT {levels}, severity, COUNT(*) AS n FROM alerts"
                              f"{_where(clauses)} GROUP BY {levels}, severity", params).fetchall()
            placed = tx.execute(f"SELECT id, severity, view FROM alerts{_where(clauses)} "
                                "ORDER BY opened_at DESC, id DESC LIMIT ?",
                                [*params, _POINTS]).fetchall()
        points = []
        for row in placed:
            location = orjson.loads(row["view"]).get("location") or {}
            if isinstance(location.get("lat"), int | float) and \
                    isinstance(location.get("lon"), int | float):
                points.append({"id": row["id"], "severity": row["severity"],
                               "lat": location["lat"], "lon": location["lon"],
                               **{level: location.get(level) for level in _TREE_LEVELS}})
        return {"levels": list(_TREE_LEVELS), "tree": area_tree(rows), "points": points}

    def rule_records(self) -> dict[str, dict[str, Any]]:
        """Per rule: alerts raised, firing now, chain still open, verdicts and precision."""
        with self.store.transaction() as tx:
            rows = tx.execute(
                "SELECT rule, COUNT(*) AS alerts, "
                "SUM(CASE WHEN condition = 'firing' THEN 1 ELSE 0 END) AS firing, "
                f"SUM(CASE WHEN chain IN ({LIVE_STATES}) THEN 1 ELSE 0 END) AS open, "
                "SUM(CASE WHEN verdict = 'true_positive' THEN 1 ELSE 0 END) AS true_positive, "
                "SUM(CASE WHEN verdict = 'false_positive' THEN 1 ELSE 0 END) AS false_positive, "
                "MAX(opened_at) AS last_opened_at FROM alerts GROUP BY rule").fetchall()
        records = {}
        for row in rows:
            judged = row["true_positive"] + row["false_positive"]
            records[row["rule"]] = {
                "alerts": row["alerts"], "firing": row["firing"], "open": row["open"],
                "true_positive": row["true_positive"], "false_positive": row["false_positive"],
                "precision": row["true_positive"] / judged if judged else None,
                "last_opened_at": row["last_opened_at"]}
        return records


def _where(clauses: list[str]) -> str:
    return " WHERE " + " AND ".join(clauses) if clauses else ""


def area_tree(rows: list[dict]) -> list[dict[str, Any]]:
    """Nested nodes (name, level, count, worst colour, children) from counts grouped by the
    area levels and severity; an area not given is a node named None.

    >>> rows = [{"district": "渝中区", "street": "解放碑街道", "community": None, "grid": "G1",
    ...          "severity": "red", "n": 1},
    ...         {"district": "渝中区", "street": "解放碑街道", "community": None, "grid": "G2",
    ...          "severity": "blue", "n": 3}]
    >>> [district] = area_tree(rows)
    >>> district["name"], district["count"], district["worst"]
    ('渝中区', 4, 'red')
    >>> [community] = district["children"][0]["children"]
    >>> [(grid["name"], grid["worst"]) for grid in community["children"]]
    [('G1', 'red'), ('G2', 'blue')]
    """
    root: dict[str, Any] = {"children": {}}
    for row in rows:
        node = root
        for level in _TREE_LEVELS:
            children = node["children"]
            name = row[level]
            node = children.get(name)
            if node is None:
                node = children[name] = {"name": name, "level": level, "count": 0,
                                         "worst": None, "children": {}}
            node["count"] += row["n"]
            if node["worst"] is None or Level[row["severity"]] > Level[node["worst"]]:
                node["worst"] = row["severity"]

    def listed(children: dict) -> list[dict]:
        return [{**node, "children": listed(node["children"])}
                for node in sorted(children.values(), key=lambda node: (
                    -Level[node["worst"]], -node["count"], node["name"] or ""))]
    return listed(root["children"])
