"""API tokens and roles: who may read, act on alerts, silence them, see contacts, manage tokens.

A token is shown once, when created; the ledger keeps only its SHA-256 digest (tokens are 256
random bits, so a fast digest is enough — there is nothing to guess that a slow hash would
protect).

>>> allowed("viewer", "act"), allowed("operator", "act"), allowed("rule_author", "silence")
(False, True, True)
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from center.store import Store

__all__ = ["ROLES", "PERMISSIONS", "Principal", "allowed", "create_token", "authenticate",
           "has_tokens"]

ROLES = ("viewer", "operator", "rule_author", "admin")
PERMISSIONS: dict[str, frozenset[str]] = {
    "read": frozenset(ROLES),
    "act": frozenset({"operator", "admin"}),            # chain actions and feedback
    "silence": frozenset({"operator", "rule_author", "admin"}),
    "contacts": frozenset({"operator", "admin"}),       # reporters' contact details unmasked
    "tokens": frozenset({"admin"}),
}
_PREFIX = "ewe_"


@dataclass(frozen=True)
class Principal:
    token_id: str
    name: str
    role: str

    def may(self, permission: str) -> bool:
        return allowed(self.role, permission)


def allowed(role: str, permission: str) -> bool:
    return role in PERMISSIONS[permission]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(store: Store, *, role: str, name: str, now: int) -> str:
    """A new token for `role`; the only time its text exists outside the caller."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; one of: {', '.join(ROLES)}")
    token = _PREFIX + secrets.token_urlsafe(32)
    with store.transaction() as tx:
        tx.execute("INSERT INTO tokens (id, name, role, hash, created_at) VALUES (?, ?, ?, ?, ?)",
                   (f"tok-{secrets.token_hex(6)}", name, role, _digest(token), now))
    return token


def authenticate(store: Store, token: str) -> Principal | None:
    if not token.startswith(_PREFIX):
        return None
    with store.transaction() as tx:
        row = tx.execute("SELECT id, name, role FROM tokens WHERE hash = ?",
                         (_digest(token),)).fetchone()
    return Principal(row["id"], row["name"], row["role"]) if row else None


def has_tokens(store: Store) -> bool:
    with store.transaction() as tx:
        return tx.execute("SELECT 1 AS one FROM tokens LIMIT 1").fetchone() is not None
