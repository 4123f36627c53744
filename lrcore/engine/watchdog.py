"""Preload of the embedded cluster's scheduler and nannies (``--preload``,
``--preload-nanny``): close the server when the web process that started it is gone (its
parent changed), so a killed app leaves no cluster behind."""
from __future__ import annotations

import asyncio
import os

from lrcore.engine.local import PARENT_ENV

CHECK_SECONDS = 2.0


def dask_setup(server) -> None:  # the hook a --preload module provides
    parent = int(os.environ.get(PARENT_ENV, "0") or 0)
    if not parent:
        return

    async def watch() -> None:
        while os.getppid() == parent:
            await asyncio.sleep(CHECK_SECONDS)
        await server.close(reason="the web process that started the engine is gone")

    server._lrcore_watchdog = asyncio.ensure_future(watch())
