"""Open311 GeoReport v2: the open standard hotline systems, citizen apps and FixMyStreet-style
sites speak, translated to and from ewe's reports and alerts.

A service is a report category; a posted request becomes a report event (its location from
`lat`/`long` and the area attributes, its contact details for the reply only); a request's
status is read from the alerts its report raised: `closed` once every one of them ended its
chain, `status_notes` the reply sent to residents, `agency_responsible` the department,
`expected_datetime` the resolve deadline of the duty list's SLA.

>>> event, row = new_request({"service_code": "water_leak", "lat": "29.56", "long": "106.57",
...                           "description": "3栋楼道漏水", "phone": "13800000000",
...                           "attribute[grid]": "YZ-03-07"}, {"water_leak"}, now=0, rid="o311-1")
>>> event["location"], event["reporter"]
({'lat': 29.56, 'lon': 106.57, 'grid': 'YZ-03-07'}, {'phone': '13800000000'})
>>> try:
...     new_request({"service_code": "water_leak"}, {"water_leak"}, now=0, rid="o311-2")
... except Open311Error as error:
...     print(error.code, error.description)
400 a location is required: lat and long, address_string or address_id
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from engine.duty import DutyList
from engine.reports.categories import CategorySpec
from engine.timestamps import format_local

__all__ = ["Open311Error", "services", "definition", "new_request", "request_view",
           "ATTRIBUTES"]

# Service attributes: where in the city the request is, as the rules and routes know it.
ATTRIBUTES = {"district": "区", "street": "街道", "community": "社区", "grid": "网格",
              "building": "楼栋"}
_REPORTER_FIELDS = {"first_name", "last_name", "phone", "email", "account_id", "device_id"}
_ENDED = ("closed", "false_positive")
MAX_DESCRIPTION = 4000


class Open311Error(Exception):
    """A refusal in the standard's terms: an HTTP status and a description."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(code, description)
        self.code, self.description = code, description

    def body(self) -> list[dict[str, Any]]:
        return [{"code": self.code, "description": self.description}]


def services(categories: Iterable[CategorySpec]) -> list[dict[str, Any]]:
    """`GET services`: one service per report category."""
    return [{"service_code": category.id,
             "service_name": category.title.get("zh") or category.title.get("en") or category.id,
             "description": category.title.get("en") or "",
             "metadata": True, "type": "realtime",
             "keywords": ",".join(category.keywords[:10]), "group": "ewe"}
            for category in categories]


def definition(service_code: str) -> dict[str, Any]:
    """`GET services/{code}`: the area attributes a request may carry."""
    return {"service_code": service_code, "attributes": [
        {"variable": True, "code": code, "datatype": "string", "required": False,
         "datatype_description": f"the {code} as the city's grid names it", "order": order,
         "description": name}
        for order, (code, name) in enumerate(ATTRIBUTES.items(), 1)]}


def new_request(form: Mapping[str, str], codes: Iterable[str], *, now: int,
                rid: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The report event and the ledger row of a posted request; `Open311Error` saying what
    is missing or wrong."""
    code = form.get("service_code", "").strip()
    if not code:
        raise Open311Error(400, "service_code is required")
    if code not in set(codes):
        raise Open311Error(404, f"no service {code!r}: GET services.json lists them")
    location: dict[str, Any] = {}
    if form.get("lat") or form.get("long"):
        location.update(_coordinates(form.get("lat", ""), form.get("long", "")))
    address, address_id = form.get("address_string") or None, form.get("address_id") or None
    if not location and not address and not address_id:
        raise Open311Error(400, "a location is required: lat and long, address_string or "
                                "address_id")
    for name in ATTRIBUTES:
        value = form.get(f"attribute[{name}]", "").strip()
        if value:
            location[name] = value
    description = form.get("description", "").strip()
    if len(description) > MAX_DESCRIPTION:
        raise Open311Error(400, f"description is longer than {MAX_DESCRIPTION} characters")
    reporter = {name: form[name] for name in sorted(_REPORTER_FIELDS) if form.get(name)}
    event: dict[str, Any] = {"kind": "report", "id": rid, "ts": now, "channel": "open311",
                             "category": code, "text": description or code,
                             "location": location}
    if address or address_id:
        event["attrs"] = {key: value for key, value in
                          (("address", address), ("address_id", address_id)) if value}
    if reporter:
        event["reporter"] = reporter
    row = {"id": rid, "service_code": code, "description": description, "address": address,
           "address_id": address_id, "lat": location.get("lat"), "lon": location.get("lon"),
           "media_url": form.get("media_url") or None, "requested_at": now}
    return event, row


def request_view(request: Mapping[str, Any], names: Mapping[str, str], duty: DutyList,
                 zone: str) -> dict[str, Any]:
    """A request as `GET requests` shows it, from its ledger row and the alerts it raised."""
    alerts = request["alerts"]
    closed = bool(alerts) and all(alert["chain"] in _ENDED for alert in alerts)
    replies = [reply for alert in alerts for reply in alert["replies"] if reply]
    departments = list(dict.fromkeys(alert["department"] for alert in alerts
                                     if alert["department"]))
    deadlines = [duty.deadlines(alert["severity"], alert["opened_at"]).get("resolve")
                 for alert in alerts]
    expected = max((at for at in deadlines if at is not None), default=None)
    updated = max([request["requested_at"], *(alert["updated_at"] for alert in alerts)])
    return {
        "service_request_id": request["id"], "status": "closed" if closed else "open",
        "status_notes": replies[-1] if replies else None,
        "service_name": names.get(request["service_code"], request["service_code"]),
        "service_code": request["service_code"], "description": request["description"],
        "agency_responsible": "；".join(departments) or None, "service_notice": None,
        "requested_datetime": format_local(request["requested_at"], zone),
        "updated_datetime": format_local(updated, zone),
        "expected_datetime": format_local(expected, zone) if expected is not None else None,
        "address": request["address"], "address_id": request["address_id"], "zipcode": None,
        "lat": request["lat"], "long": request["lon"], "media_url": request["media_url"],
    }


def _coordinates(lat: str, lon: str) -> dict[str, float]:
    try:
        latitude, longitude = float(lat), float(lon)
    except ValueError:
        raise Open311Error(400, "lat and long are WGS84 degrees, both given") from None
    if not (math.isfinite(latitude) and math.isfinite(longitude)
            and -90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise Open311Error(400, "lat is -90..90 and long -180..180")
    return {"lat": latitude, "lon": longitude}

