"""One handler per error of `center.errors`: the status and the `{"error", "code"}` body."""
from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from center.errors import HTTP_STATUS, error_body

__all__ = ["install_handlers"]


def install_handlers(app: FastAPI) -> None:
    for error_type, (status, code) in HTTP_STATUS.items():
        app.add_exception_handler(error_type, _handler(status, code))


def _handler(status: int, code: str):
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None

    async def handle(_: Request, error: Exception) -> JSONResponse:
        return JSONResponse(error_body(str(error), code), status, headers=headers)
    return handle
