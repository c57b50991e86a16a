"""Anomaly models at run time: one detector per key, scoring each matching event.

A model (the `models:` section of a rule file) keeps a detector for each value of its `per` key,
built by name from `engine.anomaly`. For each matching event it computes the features — fields
and window functions over the key's events — scores them (score first, then learn) and records
the score on the event, where rules read it with `score("model-id")`. Before `warmup` events of
a key the score is 0. An event whose features cannot all be computed is neither scored nor
learned.

The first feature is the detector's `value`; further ones are passed as `f1`, `f2`, ...
(half-space trees use them all), and the event time as `t` (seasonal detectors slot by it).

A z-score model of plain `value` — the per-device model of a city — keeps no detector object per
key: its state lives in the arrays of one `ZScoreArray` and each batch is scored and learned at
once, about 20 bytes and a microsecond or two per key and event.

Feedback: `learn_as_normal(key, event)` is what an operator's false-positive mark does — the
key's detector learns that event's features again, `FEEDBACK_WEIGHT` times, so that a value like
it scores lower from then on (for the z-score detectors: the variance widens to cover it).
"""
from __future__ import annotations

from typing import Any

from engine.anomaly import Detector, make_detector
from engine.events import Event
from engine.rulefile import ModelSpec
from engine.shapes.base import Item, compile_argument, compile_getter, compile_matcher, key_text
from engine.windows import make_window

__all__ = ["Model", "FEEDBACK_WEIGHT"]

FEEDBACK_WEIGHT = 10
_UNDEFINED = (TypeError, AttributeError, ZeroDivisionError, ValueError)


class ModelKey:
    """A key's detector, the windows its features read, and how many events it has seen."""

    __slots__ = ("detector", "windows", "seen")

    def __init__(self, detector: Detector, windows: list) -> None:
        self.detector = detector
        self.windows = windows
        self.seen = 0

    def __getstate__(self) -> tuple:
        return self.detector, self.windows, self.seen

    def __setstate__(self, state: tuple) -> None:
        self.detector, self.windows, self.seen = state


class Model:
    def __init__(self, spec: ModelSpec, indexed: tuple[str, ...] = ("kind",)) -> None:
        """`indexed`: the `match` fields the caller's dispatch guarantees (see engine.dispatch)."""
        self.spec = spec
        self.id = spec.id
        make_detector(spec.detector, **spec.params)   # refuses bad parameters now, not later
        self.key_of = compile_getter(spec.key)
        self.matcher = compile_matcher(spec.match, skip=indexed)
        self.features = [feature.evaluate for feature in spec.features]
        self.window_arguments = [compile_argument(w.argument) if w.argument else None
                                 for w in spec.windows]
        self.states: dict[str, ModelKey] = {}
        self.plain_value = [f.source for f in spec.features] == ["value"]
        self.array = self._array_detector() if self.plain_value and spec.detector == "zscore" \
            else None

    def _array_detector(self) -> Any:
        from engine.anomaly.batch import ZScoreArray  # numpy and scipy: only when used

        spec = self.spec
        params = dict(spec.params)
        params["warmup"] = max(params.get("warmup", 30), spec.warmup)
        return ZScoreArray(**params)

    @property
    def keys(self) -> int:
        return len(self.array) if self.array is not None else len(self.states)

    def process(self, items: list[Item]) -> None:
        """Score and learn each matching event of a time-ordered batch."""
        if self.array is not None:
            self._process_array(items)
            return
        matcher, key_of, states, model_id = self.matcher, self.key_of, self.states, self.id
        warmup, plain, arguments = self.spec.warmup, self.plain_value, self.window_arguments
        for t, _, _, event in items:
            if matcher is not None and not matcher(event):
                continue
            key = key_text(key_of(event))
            if key is None:
                continue
            state = states.get(key)
            if state is None:
                state = states[key] = ModelKey(
                    make_detector(self.spec.detector, **self.spec.params),
                    [make_window(w) for w in self.spec.windows])
            if plain:
                if event.value is None:
                    continue
                x = {"t": t, "value": event.value}
            else:
                for window, argument in zip(state.windows, arguments, strict=True):
                    window.add(t, argument(event) if argument is not None else None)
                x = self._features(t, event, state.windows)
                if x is None:
                    continue
            detector = state.detector
            score = detector.score_one(x) if state.seen >= warmup else 0.0
            detector.learn_one(x)
            state.seen += 1
            if event.scores is None:
                event.scores = {model_id: score}
            else:
                event.scores[model_id] = score

    def _process_array(self, items: list[Item]) -> None:
        matcher, key_of = self.matcher, self.key_of
        events, keys, values = [], [], []
        for _, _, _, event in items:
            if matcher is not None and not matcher(event):
                continue
            key = key_text(key_of(event))
            if key is not None:
                events.append(event)
                keys.append(key)
                values.append(event.value)
        if not events:
            return
        for event, score in zip(events, self.array.score_learn(keys, values).tolist(),
                                strict=True):
            if event.scores is None:
                event.scores = {self.id: score}
            else:
                event.scores[self.id] = score

    def learn_as_normal(self, key: str, t: int, event: Event) -> bool:
        """An operator marked an alert on this key false: learn its event as normal."""
        if self.array is not None:
            if event.value is None:
                return False
            self.array.score_learn([key] * FEEDBACK_WEIGHT, [event.value] * FEEDBACK_WEIGHT)
            return True
        state = self.states.get(key)
        x = self._features(t, event, state.windows) if state is not None else None
        if x is None:
            return False
        for _ in range(FEEDBACK_WEIGHT):
            state.detector.learn_one(x)
        return True

    def _features(self, t: int, event: Event, windows: list) -> dict[str, Any] | None:
        x: dict[str, Any] = {"t": t}
        for index, feature in enumerate(self.features):
            try:
                value = feature(event, windows)
            except _UNDEFINED:
                return None
            if type(value) is not float and type(value) is not int:
                return None
            x["value" if index == 0 else f"f{index}"] = float(value)
        return x
