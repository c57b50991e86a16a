"""Report classification on real citizen messages (TipDM 2020, 7 categories).

    python bench/classify [--data PATH] [--categories bench/classify/tipdm.yaml]

The classifier of `engine.reports` (categories' keywords as its start, complement naive Bayes
over characters, character pairs and jieba words, learning one report at a time):

- **progressive validation**: each message is classified, then learnt with its label, in the
  file's time order and in 5 shuffles (accuracy and macro-F1 over every message, mean and
  spread); per-category F1 of the time order; reports/s;
- **train / test**: learns the `sample_attachment2` rows, then classifies the
  `eval_split_with_true_label` rows (those in both sets left out of the test);
- the share of reports the model is sure enough to classify (`unclassified_below`) and how
  often those are right.

Hyperparameters (n-gram sizes, title weight, smoothing, text lengths) were chosen by progressive
validation on the `sample_attachment2` rows only. The data stays in ../shared (not
redistributable).
"""
from __future__ import annotations

import argparse
import csv
import random
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from engine.reports.categories import read_sections  # noqa: E402
from engine.reports.classifier import Classifier  # noqa: E402
from engine.reports.evaluation import (  # noqa: E402
    LabelledReport,
    f1_by_category,
    progressive,
    scores,
)
from engine.yamlpos import load  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "reports" / "tipdm2020_messages_labeled.csv"


def reading_of(path: Path):
    problems: list[str] = []
    reading = read_sections(load(path.read_text(encoding="utf-8"), str(path)),
                            lambda line, message: problems.append(f"{path}:{line}: {message}"),
                            str(path))
    if problems:
        raise SystemExit("\n".join(problems))
    return reading


def labelled(rows: list[dict]) -> list[LabelledReport]:
    return [LabelledReport(row["text"], row["title"] or None, row["label"]) for row in rows]


def timed(reading, reports: list[LabelledReport]) -> tuple[list[tuple[str, str]], list, float]:
    began = time.perf_counter()
    verdicts = progressive(Classifier(reading), reports)
    speed = len(reports) / (time.perf_counter() - began)
    return [(v.category, r.label) for v, r in zip(verdicts, reports, strict=True)], verdicts, speed


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench/classify", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--categories", type=Path, default=HERE / "tipdm.yaml")
    args = parser.parse_args()
    with args.data.open(encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    reading = reading_of(args.categories)
    labels = sorted(Counter(row["label"] for row in rows))
    reports = labelled(rows)
    Classifier(reading).classify("预热")                  # the segmenter's dictionary, once
    print(f"data            {len(rows):,} messages, {len(labels)} categories ({args.data.name})")

    pairs, verdicts, speed = timed(reading, reports)
    result = scores(pairs)
    print(f"progressive     time order: accuracy {result.accuracy:.3f}, macro-F1 "
          f"{result.macro_f1:.3f}, {speed:,.0f} reports/s")
    for label, score in f1_by_category(pairs).items():
        print(f"                  F1 {score:.3f}  {label}")
    sure = [(verdict.category, truth) for verdict, (_, truth) in zip(verdicts, pairs, strict=True)
            if verdict.confidence >= reading.unclassified_below]
    print(f"                confidence ≥ {reading.unclassified_below:g}: "
          f"{len(sure) / len(pairs):.0%} of reports classified, "
          f"{scores(sure).accuracy:.3f} of them right; the rest wait for an operator")
    results = []
    for seed in range(5):
        shuffled = reports[:]
        random.Random(seed).shuffle(shuffled)
        results.append(scores(timed(reading, shuffled)[0]))
    accuracies = [result.accuracy for result in results]
    macros = [result.macro_f1 for result in results]
    print(f"                5 shuffles: accuracy {statistics.mean(accuracies):.3f} "
          f"± {statistics.stdev(accuracies):.3f}, macro-F1 {statistics.mean(macros):.3f} "
          f"± {statistics.stdev(macros):.3f} (min {min(macros):.3f})")

    train = [row for row in rows if "sample_attachment2" in row["subset"]]
    test = [row for row in rows if row["subset"] == "eval_split_with_true_label"]
    classifier = Classifier(reading)
    for report in labelled(train):
        classifier.learn(report.text, report.label, report.title)
    began = time.perf_counter()
    pairs = [(classifier.guess(report.text, report.title).category, report.label)
             for report in labelled(test)]
    speed = len(test) / (time.perf_counter() - began)
    result = scores(pairs)
    print(f"train / test    {len(train)} sample rows → {len(test)} eval rows: accuracy "
          f"{result.accuracy:.3f}, macro-F1 {result.macro_f1:.3f}, {speed:,.0f} reports/s "
          "classified")


if __name__ == "__main__":
    main()
