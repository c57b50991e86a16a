"""A rule pack: the validated rules of a set of files, loaded all-or-nothing."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.rulefile import RuleSpec, load_paths, load_text

__all__ = ["Pack"]


@dataclass(frozen=True)
class Pack:
    specs: tuple[RuleSpec, ...]

    @classmethod
    def load(cls, paths: list[str | Path]) -> Pack:
        """Every rule of the files under paths; `RuleFileError` lists all problems otherwise."""
        return cls(tuple(load_paths(paths)))

    @classmethod
    def from_text(cls, text: str, filename: str = "<rules>") -> Pack:
        return cls(tuple(load_text(text, filename)))

    def __len__(self) -> int:
        return len(self.specs)
