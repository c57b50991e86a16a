"""Wiring the center into `ewe run`: the ledger store, the duty list, the first admin token."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from center.app import create_app
from center.contacts import keep
from center.service import CenterService, first_admin_token, wall_clock_ms
from center.store import Store, open_store, redacted
from center.webhooks import Webhook
from engine.duty import DutyList, load_duty_file
from engine.privacy import Contact
from ewe.cli import SHIPPED_RULES
from streams.runtime import Attachment
from streams.settings import Settings

__all__ = ["SHIPPED_DUTY", "duty_list", "open_center", "attach_center", "contact_keeper"]

SHIPPED_DUTY = SHIPPED_RULES / "duty.yaml"


def duty_list(settings: Settings) -> DutyList:
    """The duty list the settings name, or the shipped one; `RuleFileError` saying why not."""
    return load_duty_file(settings.duty or SHIPPED_DUTY)


def open_center(settings: Settings) -> tuple[Store, DutyList]:
    """The migrated store and the duty list; `StoreError` or `RuleFileError` saying why not."""
    duty = duty_list(settings)
    return open_store(settings.store_url), duty


def contact_keeper(store: Store, clock: Callable[[], int] = wall_clock_ms,
                   ) -> Callable[[list[Contact]], Awaitable[None]]:
    """Where the ingest puts reporters' contact details: the ledger of `store`."""
    async def keep_contacts(contacts: list[Contact]) -> None:
        await asyncio.to_thread(keep, store, contacts, now=clock())
    return keep_contacts


def attach_center(settings: Settings, store: Store, duty: DutyList,
                  clock: Callable[[], int] = wall_clock_ms) -> Callable[[str], Attachment]:
    token = first_admin_token(store, clock)

    def attach(bootstrap: str) -> Attachment:
        service = CenterService(store, duty, bootstrap=bootstrap, topic=settings.topic,
                                webhooks=[Webhook(**hook) for hook in settings.webhooks],
                                external_url=settings.base_url, clock=clock,
                                rebalance_timeout_ms=settings.ms("rebalance_timeout"),
                                session_timeout_ms=settings.ms("session_timeout"))

        def app(routes: list, exposition: list, health: Callable[[], dict]):
            return create_app(service.center, routes=routes, exposition=exposition,
                              health=health)

        base = settings.base_url
        banner = [f"center API {base}/v1/ (OpenAPI {base}/openapi.json, live feed "
                  f"{base}/v1/stream); ledger {redacted(store.url)}"]
        if token is not None:
            banner.append(f"first start: admin token {token}\n"
                          f"     shown only now; the ledger keeps only its hash. More tokens: "
                          f"ewe token create --role operator --data-dir {settings.data_dir}")

        async def stop() -> None:
            await service.stop()
            await asyncio.to_thread(store.close)

        return Attachment(service.start, stop, app, banner)

    return attach
