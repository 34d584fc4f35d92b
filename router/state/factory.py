"""Pick the state store from the settings: Redis when a URL is set, else embedded."""

from __future__ import annotations

import datetime as dt

from router.settings import Settings
from router.state.base import State
from router.state.embedded import EmbeddedState


async def open_state(settings: Settings, rules_name: str) -> State:
    window = dt.timedelta(seconds=settings.replay_window_seconds)
    if settings.redis_url:
        raise NotImplementedError("the Redis state is not part of this build yet")
    return EmbeddedState(replay_window=window)
