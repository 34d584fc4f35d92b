"""Pick the state store from the settings: Redis when a URL is set, else embedded."""

from __future__ import annotations

import datetime as dt

from router.settings import Settings
from router.state.base import State
from router.state.embedded import EmbeddedState
from router.state.redis_store import open_redis


async def open_state(settings: Settings, rules_name: str) -> State:
    """The store for these settings; the Redis keys are namespaced by `rules_name`.

    Opening the Redis store does not contact the server: a Redis that is down at
    start-up makes /readyz answer 503 until it is back, with no restart.
    """
    window = dt.timedelta(seconds=settings.replay_window_seconds)
    if settings.redis_url:
        return open_redis(settings, rules_name, replay_window=window)
    return EmbeddedState(replay_window=window)
