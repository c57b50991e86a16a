"""API tokens and roles: who may read, act on alerts, silence them, see contacts, manage tokens.

A token is shown once, when created; the ledger keeps only its SHA-256 digest (tokens are 256
random bits, so a fast digest is enough — there is nothing to guess that a slow hash would
protect). Its id (`token_id`) is derived from the digest, so whoever holds a token can name it;
a revoked token authenticates no more, nor one past the instant it expires at.

A token may be scoped to an area (a district, street or community): it then sees and acts on
that area's alerts only, as a district's or a street's office does.

>>> Principal("tok-1", "ops", "operator").may("act")
True
>>> Principal("tok-2", "渝中区", "operator", scope=("district", "渝中区")).sees(
...     {"district": "渝中区", "grid": "YZ-03-07"})
True
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from center.store import Store
from engine.events import format_timestamp
from engine.roles import PERMISSIONS, ROLES, allowed

__all__ = ["ROLES", "PERMISSIONS", "SCOPE_LEVELS", "Principal", "TokenRefused", "allowed",
           "create_token", "token_id", "authenticate", "has_tokens", "list_tokens",
           "revoke_token", "check_scope"]

_PREFIX = "ewe_"
SCOPE_LEVELS = ("district", "street", "community")


@dataclass(frozen=True)
class Principal:
    token_id: str
    name: str
    role: str
    expires_at: int | None = None       # ms; None: until revoked
    scope: tuple[str, str] | None = None    # (area level, name); None: the whole city

    def may(self, permission: str) -> bool:
        return allowed(self.role, permission)

    def sees(self, location: dict | None) -> bool:
        """Whether an alert at `location` is in the token's area."""
        if self.scope is None:
            return True
        level, name = self.scope
        return (location or {}).get(level) == name

    def expired(self, now: int) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def refusal(self, now: int) -> TokenRefused | None:
        if self.expired(now):
            return TokenRefused(f"token {self.token_id} expired at "
                                f"{format_timestamp(self.expires_at)}: sign in with a new one")
        return None


class TokenRefused(Exception):
    """Why a token does not authenticate: unknown, revoked or expired (safe to show: it names
    the token by its id only)."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_scope(role: str, scope: tuple[str, str] | None) -> None:
    """ValueError unless a token of `role` may have `scope`: an area level and a name, for the
    roles that work alerts (an admin manages the whole city's tokens; an ingest token posts
    events, which know no office).

    >>> check_scope("admin", ("district", "渝中区"))
    Traceback (most recent call last):
        ...
    ValueError: an admin token covers the whole city: scope viewer, operator and rule_author tokens
    """
    if scope is None:
        return
    level, name = scope
    if level not in SCOPE_LEVELS:
        raise ValueError(f"a scope is a {', '.join(SCOPE_LEVELS)}, not {level!r}")
    if not name:
        raise ValueError(f"a {level} scope needs the {level}'s name")
    if role in ("admin", "ingest"):
        raise ValueError(f"an {role} token covers the whole city: scope viewer, operator and "
                         "rule_author tokens")


def create_token(store: Store, *, role: str, name: str, now: int,
                 expires_at: int | None = None, scope: tuple[str, str] | None = None) -> str:
    """A new token for `role`, valid until revoked or until `expires_at` (ms), for the whole
    city or the area of `scope`; the only time its text exists outside the caller."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; one of: {', '.join(ROLES)}")
    if expires_at is not None and expires_at <= now:
        raise ValueError("a token must expire after it is created")
    check_scope(role, scope)
    level, area = scope or (None, None)
    token = _PREFIX + secrets.token_urlsafe(32)
    with store.transaction() as tx:
        tx.execute("INSERT INTO tokens (id, name, role, hash, created_at, expires_at, "
                   "scope_level, scope_value) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   (token_id(token), name, role, _digest(token), now, expires_at, level, area))
    return token


def token_id(token: str) -> str:
    """The public name of a token: a prefix of its digest, safe to show and to log."""
    return "tok-" + _digest(token)[:12]


def authenticate(store: Store, token: str, *, now: int) -> Principal:
    """The holder of `token`, or `TokenRefused` saying why not."""
    row = None
    if token.startswith(_PREFIX):
        with store.transaction() as tx:
            row = tx.execute("SELECT id, name, role, revoked_at, expires_at, scope_level, "
                             "scope_value FROM tokens WHERE hash = ?",
                             (_digest(token),)).fetchone()
    if row is None:
        raise TokenRefused("unknown token")
    if row["revoked_at"] is not None:
        raise TokenRefused(f"token {row['id']} was revoked at "
                           f"{format_timestamp(row['revoked_at'])}")
    scope = (row["scope_level"], row["scope_value"]) if row["scope_level"] else None
    principal = Principal(row["id"], row["name"], row["role"], row["expires_at"], scope)
    if (refusal := principal.refusal(now)) is not None:
        raise refusal
    return principal


def list_tokens(store: Store) -> list[dict]:
    """Every token's id, holder, role, area and times (never its digest), oldest first."""
    with store.transaction() as tx:
        rows = tx.execute("SELECT id, name, role, created_at, expires_at, revoked_at, "
                          "scope_level, scope_value FROM tokens ORDER BY created_at, id"
                          ).fetchall()
    return [{**{key: value for key, value in row.items() if not key.startswith("scope_")},
             "scope": {row["scope_level"]: row["scope_value"]} if row["scope_level"] else None}
            for row in map(dict, rows)]


def revoke_token(store: Store, identifier: str, *, now: int) -> bool:
    """Revoke a token by its id; False if there is no such token. Revoking twice is harmless
    (the first time is kept)."""
    with store.transaction() as tx:
        tx.execute("UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                   (now, identifier))
        return tx.execute("SELECT 1 AS one FROM tokens WHERE id = ?",
                          (identifier,)).fetchone() is not None


def has_tokens(store: Store) -> bool:
    with store.transaction() as tx:
        return tx.execute("SELECT 1 AS one FROM tokens LIMIT 1").fetchone() is not None
