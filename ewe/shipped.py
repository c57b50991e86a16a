"""Where the shipped rule pack and duty list are: beside the packages in a checkout (and in an
editable install), else where an installed wheel put them (`<prefix>/share/ewe/rules`)."""
from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["SHIPPED_RULES", "SHIPPED_DUTY"]

_CHECKOUT = Path(__file__).resolve().parent.parent / "rules"
SHIPPED_RULES = _CHECKOUT if _CHECKOUT.is_dir() else Path(sys.prefix) / "share" / "ewe" / "rules"
SHIPPED_DUTY = SHIPPED_RULES / "duty.yaml"
