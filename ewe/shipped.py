"""Where the shipped rule pack and duty list are: beside the packages in a checkout (and in an
editable install)."""
from __future__ import annotations

from pathlib import Path

__all__ = ["SHIPPED_RULES", "SHIPPED_DUTY"]

SHIPPED_RULES = Path(__file__).resolve().parent.parent / "rules"
SHIPPED_DUTY = SHIPPED_RULES / "duty.yaml"
