"""System tools some tests run: when one is missing, those tests are skipped, saying which
Debian package has it (`.ci/run` installs them all)."""
from __future__ import annotations

import shutil

import pytest

__all__ = ["needs"]


def needs(tool: str, package: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(shutil.which(tool) is None,
                              reason=f"needs {tool} (Debian package {package}; .ci/run "
                                     "installs it)")
