"""The API's published contract: FastAPI's OpenAPI document, completed with what FastAPI does
not see. Every operation lists the errors it can answer (400, 401, 403, 404, 409, 422), each in
the one error shape (`Error`: `{"error", "code"}`); `POST /v1/events`, served by the ingest
beside the center, is described with the event's JSON Schema (`engine/schemas/`)."""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from center.errors import HTTP_CODES, HTTP_STATUS
from engine.messages import SCHEMA_DIR

__all__ = ["complete", "ERROR_SCHEMA"]

_CODES = sorted({code for _, code in HTTP_STATUS.values()} | set(HTTP_CODES.values())
                | {"busy", "unavailable"})
ERROR_SCHEMA = {
    "type": "object", "title": "Error", "required": ["error", "code"],
    "properties": {"error": {"type": "string", "description": "What went wrong, for people."},
                   "code": {"type": "string", "enum": _CODES,
                            "description": "What went wrong, for programs: stable."}}}

_ERRORS = {
    400: "the request is well formed but cannot be taken (a malformed cursor or time, an empty "
         "feedback, a silence the ledger refuses)",
    401: "no token, or one the center does not know (expired, revoked)",
    403: "the token's role may not do this",
    404: "no such alert, incident, silence or token (or not one this token may see)",
    409: "the alert's chain state does not allow this action",
    422: "the request does not fit the schema (a field missing, out of range or unknown)",
}
_CHAIN_PATHS = ("/actions", "/feedback")


def complete(spec: dict[str, Any], *, ingest: bool) -> dict[str, Any]:
    """The OpenAPI document with every operation's errors, and the ingest's operation when it is
    served beside the center (`ingest`)."""
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Error"] = ERROR_SCHEMA
    for path, operations in spec.get("paths", {}).items():
        for operation in operations.values():
            _add_errors(path, operation)
            for parameter in operation.get("parameters", []):
                _no_nul(parameter.get("schema", {}))
    for schema in schemas.values():
        _no_nul(schema)
    if ingest:
        schemas.update(_event_schemas())
        spec["paths"]["/v1/events"] = {"post": _ingest_operation()}
    return spec


def _add_errors(path: str, operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    wanted = []
    if operation.get("security"):
        wanted += [401, 403]
    if "{" in path:
        wanted.append(404)
    queried = any(p.get("in") == "query" for p in operation.get("parameters", []))
    if queried or "requestBody" in operation:
        wanted += [400, 422]
    if path.endswith(_CHAIN_PATHS):
        wanted.append(409)
    if not wanted and "422" in responses:     # FastAPI's default, for path parameters
        wanted.append(422)
    for status in sorted(wanted):
        described = responses.get(str(status), {}).get("description")
        responses[str(status)] = _error(described if described and status != 422
                                        else _ERRORS[status])


def _no_nul(schema: Any) -> None:
    """Free text nowhere takes NUL (the ledger's databases cannot store it): say so in every
    string's schema that has no stricter pattern, enum or format."""
    if isinstance(schema, dict):
        if (schema.get("type") == "string" and not
                {"pattern", "enum", "format", "const"} & set(schema)):
            schema["pattern"] = "^[^\\x00]*$"
        for value in schema.values():
            _no_nul(value)
    elif isinstance(schema, list):
        for item in schema:
            _no_nul(item)


def _error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _event_schemas() -> dict[str, Any]:
    """The event's JSON Schema as components, its `$defs` beside it."""
    schema = json.loads((SCHEMA_DIR / "event.schema.json").read_text(encoding="utf-8"))
    definitions = schema.pop("$defs", {})
    schema.pop("$schema", None)
    schema.pop("$id", None)
    renamed = {name: f"Event{name[:1].upper()}{name[1:]}" for name in definitions}

    def relinked(node: Any) -> Any:
        if isinstance(node, Mapping):
            return {key: (f"#/components/schemas/{renamed[value.removeprefix('#/$defs/')]}"
                          if key == "$ref" and isinstance(value, str)
                          and value.startswith("#/$defs/") else relinked(value))
                    for key, value in node.items()}
        if isinstance(node, list):
            return [relinked(item) for item in node]
        return node

    return {"Event": relinked(schema),
            **{renamed[name]: relinked(value) for name, value in definitions.items()},
            "Receipt": _RECEIPT}


_RECEIPT = {
    "type": "object", "title": "Receipt", "required": ["accepted", "rejected", "rejections"],
    "properties": {
        "accepted": {"type": "integer", "minimum": 0,
                     "description": "events taken: journalled, evaluated in event time"},
        "rejected": {"type": "integer", "minimum": 0,
                     "description": "events refused (each also dead-lettered with its reason)"},
        "rejections": {"type": "array", "maxItems": 100, "items": {
            "type": "object", "required": ["index", "reason"],
            "properties": {"index": {"type": "integer", "minimum": 0},
                           "reason": {"type": "string"}}},
            "description": "the first 100 refusals: the event's place in the body and why"}}}


def _ingest_operation() -> dict[str, Any]:
    receipt = {"application/json": {"schema": {"$ref": "#/components/schemas/Receipt"}}}
    event = {"$ref": "#/components/schemas/Event"}
    return {
        "tags": ["ingest"], "summary": "Send events", "operationId": "post_events",
        "description": "One event or a JSON array of them (readings and resident reports). "
                       "Each is checked on its own: the answer says how many were taken and "
                       "why the others were not. With `wait=1` the answer waits until the "
                       "events are safe (published, or in a checkpoint). Needs an ingest or "
                       "admin token unless the service runs with an open ingest.",
        "security": [{"HTTPBearer": []}],
        "parameters": [{"name": "wait", "in": "query", "required": False,
                        "schema": {"enum": ["0", "1"]},
                        "description": "1: answer once the events are safe"}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "oneOf": [event, {"type": "array", "items": event, "minItems": 1}]}}}},
        "responses": {
            "202": {"description": "some or all events taken", "content": receipt},
            "400": {"description": "no event taken: the receipt says why", "content": receipt},
            "401": _error(_ERRORS[401]),
            "403": _error("the token's role may not post events"),
            "413": _error("the body is larger than the limit (16 MiB)"),
            "429": _error("too much accepted and not yet passed on: retry after a second"),
            "503": _error("the broker or the journal is down: retry after five seconds"),
        },
    }
