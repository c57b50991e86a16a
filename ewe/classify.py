"""`ewe classify`: the report classifier on a CSV export (columns title, text, label).

    ewe classify --progressive labelled.csv            # classify, then learn, each row
    ewe classify --train labelled.csv new.csv --out classified.csv

The categories and settings come from the rule pack (`--rules`, the shipped pack by default).
"""
from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

from engine.pack import Pack
from engine.reports.classifier import Classifier
from engine.reports.evaluation import LabelledReport, f1_by_category, progressive, scores
from engine.rulefile import RuleFileError

__all__ = ["add_parser"]

_MAX_FIELD = 1 << 20


def add_parser(commands: argparse._SubParsersAction, shipped: Path) -> None:
    parser = commands.add_parser(
        "classify", help="try the report classifier on a CSV of reports (title,text,label)",
        description="Classify resident reports from a CSV with columns title, text and label "
                    "(title may be empty; label is needed to train and to score).")
    parser.add_argument("input", nargs="?", type=Path, metavar="IN.csv",
                        help="reports to classify (written to --out with label, confidence "
                             "and source)")
    parser.add_argument("--out", type=Path, metavar="OUT.csv", help="where the classified "
                        "reports go (default: standard output)")
    parser.add_argument("--train", type=Path, action="append", default=[], metavar="FILE.csv",
                        help="labelled reports to learn first (may be repeated)")
    parser.add_argument("--progressive", type=Path, metavar="FILE.csv",
                        help="classify, then learn, each labelled row; print accuracy, "
                             "macro-F1, F1 per category and reports/s")
    parser.add_argument("--rules", type=Path, action="append", metavar="PATH",
                        help=f"rule files with the categories (default: {shipped})")
    parser.set_defaults(run=lambda args: _run(args, shipped))


def _run(args: argparse.Namespace, shipped: Path) -> int:
    if args.input is None and args.progressive is None:
        print("ewe classify: give IN.csv to classify or --progressive FILE.csv",
              file=sys.stderr)
        return 2
    try:
        reading = Pack.load(args.rules or [shipped]).reading
        if not reading.categories:
            raise ValueError(f"{', '.join(map(str, args.rules or [shipped]))}: no `categories:` "
                             "to classify into")
        classifier = Classifier(reading)
        for path in args.train:
            for report in _read(path, labelled=True):
                classifier.learn(report.text, report.label, report.title)
        if args.progressive is not None:
            _progressive(classifier, _read(args.progressive, labelled=True))
        if args.input is not None:
            _classify(classifier, _read(args.input, labelled=False), args.out)
    except (RuleFileError, ValueError, OSError) as error:
        print(f"ewe classify: {error}", file=sys.stderr)
        return 1
    return 0


def _read(path: Path, *, labelled: bool) -> list[LabelledReport]:
    csv.field_size_limit(_MAX_FIELD)
    with path.open(encoding="utf-8-sig", newline="") as file:
        rows = csv.DictReader(file)
        needed = ("text", "label") if labelled else ("text",)
        missing = [name for name in needed if name not in (rows.fieldnames or ())]
        if missing:
            raise ValueError(f"{path}: no column {', '.join(missing)} (columns: title, text, "
                             "label)")
        reports = []
        for line, row in enumerate(rows, start=2):
            text, label = (row.get("text") or "").strip(), (row.get("label") or "").strip()
            if not text or (labelled and not label):
                raise ValueError(f"{path}:{line}: empty {'text' if not text else 'label'}")
            reports.append(LabelledReport(text, (row.get("title") or "").strip() or None,
                                          label))
    return reports


def _progressive(classifier: Classifier, reports: list[LabelledReport]) -> None:
    began = time.perf_counter()
    verdicts = progressive(classifier, reports)
    elapsed = time.perf_counter() - began
    pairs = [(verdict.category, report.label)
             for verdict, report in zip(verdicts, reports, strict=True)]
    result = scores(pairs)
    print(f"reports {result.reports}, accuracy {result.accuracy:.3f}, macro-F1 "
          f"{result.macro_f1:.3f}, {len(reports) / elapsed:,.0f} reports/s")
    for category, f1 in f1_by_category(pairs).items():
        print(f"  F1 {f1:.3f}  {category}")
    below = classifier.reading.unclassified_below
    sure = [(verdict.category, report.label) for verdict, report in
            zip(verdicts, reports, strict=True) if verdict.confidence >= below]
    print(f"confidence ≥ {below:g}: {len(sure) / len(pairs):.0%} classified, "
          f"{scores(sure).accuracy:.3f} of them right; the rest would wait for an operator")


def _classify(classifier: Classifier, reports: list[LabelledReport], out: Path | None) -> None:
    file = out.open("w", encoding="utf-8", newline="") if out else sys.stdout
    try:
        writer = csv.writer(file)
        writer.writerow(["title", "text", "label", "confidence", "source"])
        for report in reports:
            verdict = classifier.classify(report.text, report.title)
            writer.writerow([report.title or "", report.text, verdict.category,
                             f"{verdict.confidence:.3f}", verdict.source])
    finally:
        if out:
            file.close()
