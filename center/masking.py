"""Reporters' contact details: shown to those who answer residents, masked for everyone else.

>>> mask({"name": "张伟", "phone": "13812345678"})
{'name': '张*', 'phone': '138****5678'}
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["mask", "masked_evidence"]


def mask(contact: Mapping[str, Any]) -> dict[str, str]:
    return {name: _mask_text(str(value)) for name, value in contact.items()}


def _mask_text(text: str) -> str:
    if len(text) >= 7:
        return text[:3] + "*" * (len(text) - 7) + text[-4:]
    return text[:1] + "*" * (len(text) - 1)


def masked_evidence(evidence: Iterable[Mapping[str, Any]]) -> list[dict]:
    return [{**item, "reporter": mask(item["reporter"])} if item.get("reporter") else dict(item)
            for item in evidence]
