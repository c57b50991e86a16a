"""A rule pack: the validated rules, anomaly models and report categories of a set of files,
loaded all-or-nothing."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.messages import ModelOutline, RuleOutline
from engine.reports.categories import Reading
from engine.rulefile import ModelSpec, RuleSpec, load_paths, load_texts

__all__ = ["Pack"]


@dataclass(frozen=True)
class Pack:
    specs: tuple[RuleSpec, ...]
    models: tuple[ModelSpec, ...] = ()
    reading: Reading = Reading()

    @classmethod
    def load(cls, paths: list[str | Path]) -> Pack:
        """Everything in the files under paths; `RuleFileError` lists all problems otherwise."""
        specs, models, reading = load_paths(paths)
        return cls(tuple(specs), tuple(models), reading)

    @classmethod
    def from_text(cls, text: str, filename: str = "<rules>") -> Pack:
        return cls.from_texts({filename: text})

    @classmethod
    def from_texts(cls, texts: dict[str, str]) -> Pack:
        """The pack of rule files given as {file name: text} (a pack pushed to the workers)."""
        specs, models, reading = load_texts(texts)
        return cls(tuple(specs), tuple(models), reading)

    def __len__(self) -> int:
        return len(self.specs)

    def outline(self) -> tuple[tuple[RuleOutline, ...], tuple[ModelOutline, ...]]:
        """What the pack holds, as its authors look it up (the board's rule view)."""
        rules = tuple(RuleOutline(
            id=spec.id, file=spec.file, line=spec.line, on=spec.on, title=spec.title,
            kind="sequence" if spec.sequence else "absence" if spec.absent_for_ms
            else "condition",
            severities=tuple(dict.fromkeys(level.name for _, level in spec.severity)),
            category=spec.labels.get("category"), models=tuple(sorted(spec.models)))
            for spec in self.specs)
        models = tuple(ModelOutline(id=spec.id, detector=spec.detector, file=spec.file,
                                    line=spec.line, on=spec.on) for spec in self.models)
        return rules, models
