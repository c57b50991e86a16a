"""Wiring the center into `ewe run`: the ledger store, the duty list, the first admin token."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any

from center import open311
from center.app import create_app
from center.auth import PERMISSIONS, TokenRefused
from center.contacts import keep
from center.context import TokenCache
from center.service import CenterService, first_tokens
from center.store import Store, open_store, redacted
from center.webhooks import Webhook
from engine.duty import DutyList, load_duty_file
from engine.messages import PackStatus
from engine.privacy import Contact
from engine.reports.categories import CategorySpec
from ewe.clock import wall_ms
from ewe.shipped import SHIPPED_DUTY
from streams.http import IngestGuard
from streams.runtime import Attachment
from streams.settings import Settings

__all__ = ["duty_list", "open_center", "attach_center", "contact_keeper",
           "ingest_guard", "closed_ingest"]



def duty_list(settings: Settings) -> DutyList:
    """The duty list the settings name, or the shipped one, its rosters read in the city's
    time zone; `RuleFileError` saying why not."""
    return replace(load_duty_file(settings.duty or SHIPPED_DUTY), timezone=settings.timezone)


def open_center(settings: Settings) -> tuple[Store, DutyList]:
    """The migrated store and the duty list; `StoreError` or `RuleFileError` saying why not."""
    duty = duty_list(settings)
    return open_store(settings.store_url), duty


def contact_keeper(store: Store, clock: Callable[[], int] = wall_ms,
                   ) -> Callable[[list[Contact]], Awaitable[None]]:
    """Where the ingest puts reporters' contact details: the ledger of `store`."""
    async def keep_contacts(contacts: list[Contact]) -> None:
        await asyncio.to_thread(keep, store, contacts, now=clock())
    return keep_contacts


def ingest_guard(store: Store) -> IngestGuard:
    """The HTTP ingest admits tokens of the ingest (or admin) role from the ledger."""
    tokens = TokenCache(store, clock=wall_ms)

    async def guard(header: str | None) -> tuple[int, str] | None:
        scheme, _, token = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return 401, ("missing token: send `Authorization: Bearer <token>` with an ingest "
                         "token (ewe token create --role ingest)")
        try:
            principal = await tokens.authenticate(token.strip())
        except TokenRefused as refused:
            return 401, str(refused)
        if not principal.may("ingest"):
            return 403, (f"role {principal.role} may not post events; roles allowed: "
                         f"{', '.join(sorted(PERMISSIONS['ingest']))}")
        return None
    return guard


async def closed_ingest(header: str | None) -> tuple[int, str]:
    """The guard of a worker that has no ledger to check tokens against."""
    return 401, ("this worker has no ledger to check ingest tokens against: start it with "
                 "--store URL (the center's ledger), or with --open-ingest on a network where "
                 "every client is trusted")


def attach_center(settings: Settings, store: Store, duty: DutyList,
                  categories: Sequence[CategorySpec] = (),
                  clock: Callable[[], int] = wall_ms) -> Callable[[str], Attachment]:
    def attach(bootstrap: str) -> Attachment:
        # Made here, once the port is known to be free: a start that fails before this
        # point has created no token nobody saw.
        tokens = first_tokens(store, clock, ingest=not settings.open_ingest)
        service = CenterService(store, duty, bootstrap=bootstrap, topic=settings.topic,
                                webhooks=[Webhook(**hook) for hook in settings.webhooks],
                                external_url=settings.base_url, clock=clock,
                                rebalance_timeout_ms=settings.ms("rebalance_timeout"),
                                session_timeout_ms=settings.ms("session_timeout"))

        def app(routes: list, exposition: list, rules: Callable[[], PackStatus],
                submit: Callable[[bytes, str], Awaitable[Any]]):
            center = service.center
            center.rules, center.timezone, center.submit = rules, settings.timezone, submit
            center.services = open311.services(categories)   # Open311: the report categories
            return create_app(center, routes=routes, exposition=exposition)

        base = settings.base_url
        banner = [f"operations board {base}/ (sign in with a token)",
                  f"center API {base}/v1/ (documentation {base}/docs, live feed "
                  f"{base}/v1/stream); ledger {redacted(store.url)}"]
        dir_flag = f"--data-dir {settings.data_dir}" if not settings.store else \
            f"--store {redacted(store.url)}"
        if tokens:
            banner += [f"first start: {role} token {token}" for role, token in tokens.items()]
            banner.append(f"     shown only now; the ledger keeps only their hashes. More tokens "
                          f"(or a lost one): ewe token create --role admin {dir_flag}")
        else:
            banner.append(f"tokens: ewe token list {dir_flag}; a lost admin token: "
                          f"ewe token create --role admin {dir_flag}")
        if settings.open_ingest:
            banner.append("ingest: open (--open-ingest): anyone who reaches the port may post")

        async def stop() -> None:
            await service.stop()
            await asyncio.to_thread(store.close)

        return Attachment(service.start, stop, app, banner, service.recorded, service.health)

    return attach
