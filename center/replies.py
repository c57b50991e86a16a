"""Replies that reach residents: the reply step's message, addressed to each reporter of the
alert's reports, in their language, for an outbound channel (an SMS gateway, the hotline
system).

Contacts are read from the ledger when the reply is sent and go into that request only: the
queued notice, the dead letter of an undeliverable one, the feed and the topics carry the
message and the alert, never a phone number or an address.

>>> contacts = {"t1": {"reporter": {"name": "张女士", "phone": "13800000000"}, "text": "漏水"},
...             "t2": {"reporter": None, "text": "漏水"}}
>>> [message["text"] for message in reply_messages("a1", "已修复", contacts, {})]
['张女士您好：已修复']
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["DEFAULT_TEMPLATES", "reply_messages"]

DEFAULT_TEMPLATES = {"zh": "{name}您好：{message}", "en": "Dear {name}, {message}"}
_ADDRESSES = ("name", "phone", "email")
_NOBODY = {"zh": "市民", "en": "resident"}


class _Blank(dict):
    def __missing__(self, key: str) -> str:     # a placeholder the template has and we lack
        return ""


def reply_messages(alert_id: str, message: str, contacts: Mapping[str, Mapping[str, Any]],
                   templates: Mapping[str, str]) -> list[dict[str, Any]]:
    """One message per report whose reporter left a phone or an e-mail; `templates` map a
    language (the reporter's `language`, else the first) to a text with `{message}` and
    `{name}`."""
    templates = templates or DEFAULT_TEMPLATES
    messages = []
    for report_id, kept in sorted(contacts.items()):
        reporter = kept.get("reporter") or {}
        if not (reporter.get("phone") or reporter.get("email")):
            continue
        language = reporter.get("language")
        if language not in templates:
            language = next(iter(templates))
        name = reporter.get("name") or "".join(
            part for part in (reporter.get("last_name"), reporter.get("first_name")) if part)
        text = templates[language].format_map(
            _Blank(name=name or _NOBODY.get(language, ""), message=message))
        messages.append({"alert_id": alert_id, "report_id": report_id, "language": language,
                         "to": {key: reporter[key] for key in _ADDRESSES if reporter.get(key)},
                         "text": text})
    return messages
