"""Personal data in what residents write: masked wherever it would travel beyond the reply step.

A report's contact details (`reporter`) are taken off the event at the edge and kept only in the
center's ledger, for the reply. Residents also write numbers into the text itself ("请回电
13812345678"): the engine masks mobile and landline numbers, ID-card numbers, e-mail addresses and
vehicle plates in every report text as it decodes it, so rules, alerts, topics, the board's feed
and webhooks only ever carry the masked text. The handler's detail view shows the original,
from the ledger.

>>> mask_text("3栋漏水，请回电13812345678或023-63881234，邮箱zhang.san@example.com")
'3栋漏水，请回电138****5678或023-****1234，邮箱z***@example.com'
>>> mask_text("身份证500103199001011234，车牌渝A12345")
'身份证500***********1234，车牌渝A***45'
>>> mask_text("3栋楼道漏水")     # nothing to mask: the same object back
'3栋楼道漏水'
>>> mask_contact({"name": "张伟", "phone": "13812345678"})
{'name': '张*', 'phone': '138****5678'}
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple

__all__ = ["mask_text", "mask_contact", "has_personal_data", "Contact"]


class Contact(NamedTuple):
    """What a report carried that only the reply step may read: its reporter, and its original
    text when masking changed it."""

    report_id: str
    reporter: Mapping[str, Any] | None
    text: str | None

_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PERSONAL = re.compile(
    r"(?P<id>(?<!\d)\d{17}[\dXx](?![\dA-Za-z]))"                # resident ID card
    r"|(?P<mobile>(?<!\d)(?:\+?86[- ]?)?1[3-9]\d{9}(?!\d))"      # mobile number
    r"|(?P<landline>(?<!\d)0\d{2,3}-\d{7,8}(?!\d))"             # landline with area code
    r"|(?P<email>[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)"  # e-mail address
    rf"|(?P<plate>[{_PROVINCES}][A-Z][A-Z\d]{{5,6}}(?![A-Z\d]))"  # vehicle plate
)
# A cheap look before the full search: each pattern has five digits in a row, an @, or a
# province and a letter.
_MAYBE = re.compile(rf"\d{{5}}|@|[{_PROVINCES}][A-Z]")


def has_personal_data(text: str) -> bool:
    return _MAYBE.search(text) is not None and _PERSONAL.search(text) is not None


def mask_text(text: str) -> str:
    """The text with personal data masked; the text itself when there is none."""
    if _MAYBE.search(text) is None:
        return text
    return _PERSONAL.sub(_masked, text)


def _masked(match: re.Match) -> str:
    found = match.group()
    kind = match.lastgroup
    if kind == "email":
        name, _, domain = found.partition("@")
        return f"{name[:1]}***@{domain}"
    if kind == "landline":
        area, _, number = found.partition("-")
        return f"{area}-{'*' * (len(number) - 4)}{number[-4:]}"
    if kind == "plate":
        return found[:2] + "*" * (len(found) - 4) + found[-2:]
    return _mask_middle(found)


def _mask_middle(text: str) -> str:
    if len(text) >= 7:
        return text[:3] + "*" * (len(text) - 7) + text[-4:]
    return text[:1] + "*" * (len(text) - 1)


def mask_contact(contact: Mapping[str, Any]) -> dict[str, str]:
    """A reporter's contact details as a viewer may see them."""
    return {name: _mask_middle(str(value)) for name, value in contact.items()}
