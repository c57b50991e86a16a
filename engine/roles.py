"""Who may do what: the roles of API tokens and the permissions each one has.

The center checks them on every request; the duty list names them in its silence limits.

>>> allowed("viewer", "act"), allowed("operator", "act"), allowed("ingest", "read")
(False, True, False)
"""
from __future__ import annotations

__all__ = ["ROLES", "PERMISSIONS", "ACTIVITIES", "allowed"]

ROLES = ("viewer", "operator", "rule_author", "admin", "ingest")
_PEOPLE = frozenset(ROLES) - {"ingest"}
PERMISSIONS: dict[str, frozenset[str]] = {
    "read": _PEOPLE,
    "act": frozenset({"operator", "admin"}),            # chain actions and feedback
    "silence": frozenset({"operator", "rule_author", "admin"}),
    "contacts": frozenset({"operator", "admin"}),       # reporters' contact details unmasked
    "tokens": frozenset({"admin"}),
    "ingest": frozenset({"ingest", "admin"}),           # POST /v1/events
}


# What each permission lets a role do, as a refusal says it ("role viewer may not act on alerts").
ACTIVITIES: dict[str, str] = {
    "read": "read alerts", "act": "act on alerts", "silence": "create or end silences",
    "contacts": "see reporters' contact details", "tokens": "manage tokens",
    "ingest": "post events",
}


def allowed(role: str, permission: str) -> bool:
    return role in PERMISSIONS[permission]
