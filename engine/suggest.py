"""A hint for a name that is not one of the names allowed: the closest one, or the list.

>>> hint("whn", ("when", "for", "severity"))
"did you mean 'when'?"
>>> hint("colour", ("when", "for"))
'allowed: when, for'
"""
from __future__ import annotations

import difflib
from collections.abc import Sequence

__all__ = ["hint"]


def hint(name: str, allowed: Sequence[str], listing: str = "allowed") -> str:
    """"did you mean 'x'?" for a close name, else "`listing`: every allowed name"."""
    close = difflib.get_close_matches(str(name), list(allowed), n=1)
    return f"did you mean {close[0]!r}?" if close else f"{listing}: {', '.join(allowed)}"
