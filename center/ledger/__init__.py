"""The alert ledger: every warning, its incident, its chain and its full history.

The ledger records what the workers raise (`ingest`, idempotent under re-delivery), what people do
(`act`, `feedback`) and what the clock brings (`tick`: SLA escalations, reminders, notices held
back by a silence or an inhibition). Each change is an append-only row in `alert_events`; the
`alerts` row holds the state derived from them, so lists and filters stay cheap.

Two states are kept apart: the *condition* (firing / resolved, from the rule) and the *chain*
(open → … → closed, from people). An alert that clears before anyone acknowledges it is
condition-resolved and chain-open, and stays listed as such.

Time comes from the `clock` given at construction (milliseconds); nothing here reads the wall
clock, so tests drive SLA deadlines by moving an injected clock.

Each concern is a part of its own: recording what the workers raise (`recording`), what people
do (`people`), what the clock brings (`scheduling`), silences, archiving, reading (`queries`),
the board's counts, area tree and rule records (`overview`), exports and their summary
(`reporting`), Open311 service requests (`requests`), and the outbox. The decisions
they take are pure functions outside the package: incidents (`center.grouping`), mutes
(`center.mutes`), deadlines (`center.sla`), notices (`center.notices`).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

from center.errors import BadRequest, NotAllowed, NotFound
from center.ledger.archiving import Archiving
from center.ledger.outbox import Outbox
from center.ledger.overview import Overview
from center.ledger.people import ChainActions
from center.ledger.queries import AlertFilter, IncidentFilter, Page, Queries
from center.ledger.recording import IngestResult, Recording
from center.ledger.reporting import Reporting
from center.ledger.requests import ServiceRequests
from center.ledger.scheduling import Scheduling
from center.ledger.silences import SilenceBook
from center.store import Store
from engine.duty import DutyList

__all__ = ["Ledger", "AlertFilter", "IncidentFilter", "NotFound", "BadRequest", "NotAllowed",
           "IngestResult", "Page"]


class Ledger(Recording, ChainActions, Scheduling, SilenceBook, Archiving, Queries, Overview,
             Outbox, Reporting, ServiceRequests):
    def __init__(self, store: Store, duty: DutyList, *, clock: Callable[[], int],
                 targets: Sequence[str] = (), reply_targets: Sequence[str] = ()) -> None:
        self.store = store
        self.duty = duty
        self.clock = clock
        self.targets = tuple(targets)          # webhook names every notice is queued for
        self.reply_targets = tuple(reply_targets)   # ... and those replies to residents go to
        # Called after each committed change of alerts in this process (the board's answers).
        self.on_change: list[Callable[[], None]] = []
