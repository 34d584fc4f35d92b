"""Follow the rules directory: reload when its files change, so every worker converges.

`POST /v1/rules/reload` reaches one worker of one replica; with a watch period
set, every worker notices the new files by itself within that period.
"""

from __future__ import annotations

import asyncio
import logging

from router.ruleset.loading import directory_version
from router.ruleset.problems import RulesError
from router.service import Router

log = logging.getLogger("router.rules")


async def follow_rules(router: Router, every: float) -> None:
    """Check the directory's version every `every` seconds and reload when it changed.

    A broken edit is logged once and the rules in service stay; the next change
    of the files is tried again.
    """
    assert router.rules_dir is not None
    refused: str | None = None
    while True:
        await asyncio.sleep(every)
        try:
            found = await asyncio.to_thread(directory_version, router.rules_dir)
        except OSError as error:
            log.warning("rules directory unreadable dir=%s error=%s", router.rules_dir, error)
            continue
        if found in (router.rules.version, refused):
            continue
        try:
            fresh = await router.reload()
        except RulesError as error:
            refused = found
            log.warning("rules not reloaded version=%s problems=%d", found, len(error.problems))
            continue
        except Exception:
            # Whatever went wrong, the watcher must outlive it: the next edit is tried again.
            refused = found
            log.exception("rules not reloaded version=%s", found)
            continue
        refused = None
        log.info("rules reloaded version=%s", fresh.version)
