"""Errors of the center and the HTTP answer each gets.

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

Every answer is `{"error": <message>, "code": <stable code>}`; the code names the error for
clients, the message explains it to people.
"""
from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from center.ledger import BadRequest, NotAllowed, NotFound
from engine.chain import ChainError

__all__ = ["AuthError", "Unauthorized", "Forbidden", "install_handlers", "error_body"]


class AuthError(Exception):
    pass


class Unauthorized(AuthError):
    pass


class Forbidden(AuthError):
    pass


_STATUS = {NotFound: (404, "not_found"), BadRequest: (400, "bad_request"),
           ChainError: (409, "invalid_transition"), Unauthorized: (401, "unauthorized"),
           Forbidden: (403, "forbidden"), NotAllowed: (403, "forbidden")}


def error_body(message: str, code: str) -> dict[str, str]:
    return {"error": message, "code": code}


def install_handlers(app: FastAPI) -> None:
    for error_type, (status, code) in _STATUS.items():
        app.add_exception_handler(error_type, _handler(status, code))


def _handler(status: int, code: str):
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None

    async def handle(_: Request, error: Exception) -> JSONResponse:
        return JSONResponse(error_body(str(error), code), status, headers=headers)
    return handle
