"""One handler per error of `center.errors`, and for the errors FastAPI and Starlette raise
themselves (a request that does not fit the schema, an unknown path): the status and the
`{"error", "code"}` body, everywhere."""
from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from center.errors import HTTP_CODES, HTTP_STATUS, error_body

__all__ = ["install_handlers", "validation_message"]


def install_handlers(app: FastAPI) -> None:
    for error_type, (status, code) in HTTP_STATUS.items():
        app.add_exception_handler(error_type, _handler(status, code))
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(HTTPException, _http)


def _handler(status: int, code: str):
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None

    async def handle(_: Request, error: Exception) -> JSONResponse:
        return JSONResponse(error_body(str(error), code), status, headers=headers)
    return handle


def validation_message(error: RequestValidationError) -> str:
    """Each problem as `where: what`, e.g. `query.limit: Input should be less than or equal to
    500`; the body's fields by name."""
    problems = []
    for problem in error.errors()[:10]:
        where = ".".join(str(part) for part in problem.get("loc", ()))
        problems.append(f"{where}: {problem.get('msg', 'invalid')}" if where
                        else problem.get("msg", "invalid"))
    return "; ".join(problems) or "the request does not fit the API"


async def _invalid(_: Request, error: RequestValidationError) -> JSONResponse:
    return JSONResponse(error_body(validation_message(error), "invalid_request"), 422)


async def _http(_: Request, error: HTTPException) -> JSONResponse:
    code = HTTP_CODES.get(error.status_code, "http_error")
    return JSONResponse(error_body(str(error.detail), code), error.status_code,
                        headers=getattr(error, "headers", None))
