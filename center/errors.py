"""Errors of the center, and the HTTP answer each gets.

    Exception
     ├── LookupError
     │    └── NotFound ............ 404  no alert, incident or silence with that id
     ├── AuthError
     │    ├── Unauthorized ....... 401  no token, or one the center does not know
     │    └── Forbidden .......... 403  the token's role may not do this
     ├── PermissionError
     │    └── NotAllowed ......... 403  the role may, but not this far (a silence too long)
     └── ValueError
          ├── BadRequest .......... 400  a malformed cursor, an empty feedback, a bad silence
          └── ChainError .......... 409  the alert's chain state does not allow the action
               └── FieldError ..... 422  a field the action needs is missing, or one it takes not

A request that does not fit the API's schema is answered 422 `invalid_request`, an unknown path
404 `not_found`, a known path with another method 405 `method_not_allowed`. Every answer is
`{"error": <message>, "code": <stable code>}`; the code names the error for clients, the message
explains it to people. `center.api.handlers` turns them into answers.
"""
from __future__ import annotations

from engine.chain import ChainError, FieldError

__all__ = ["NotFound", "BadRequest", "NotAllowed", "AuthError", "Unauthorized", "Forbidden",
           "HTTP_STATUS", "HTTP_CODES", "error_body"]


class NotFound(LookupError):
    """No alert, incident or silence with that id."""


class BadRequest(ValueError):
    """A request the ledger cannot take as given (a malformed cursor, an empty feedback)."""


class NotAllowed(PermissionError):
    """The caller's role may not do this here (a silence beyond its limits)."""


class AuthError(Exception):
    pass


class Unauthorized(AuthError):
    pass


class Forbidden(AuthError):
    pass


HTTP_STATUS: dict[type[Exception], tuple[int, str]] = {
    NotFound: (404, "not_found"), BadRequest: (400, "bad_request"),
    ChainError: (409, "invalid_transition"), FieldError: (422, "invalid_request"),
    Unauthorized: (401, "unauthorized"),
    Forbidden: (403, "forbidden"), NotAllowed: (403, "forbidden")}


# Codes of errors HTTP itself raises, beside those above.
HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed",
              413: "too_large", 422: "invalid_request"}


def error_body(message: str, code: str) -> dict[str, str]:
    return {"error": message, "code": code}
