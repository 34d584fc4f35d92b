"""Who is next in a pool: credit-based weighted rotation and least-loaded choice.

Weighted and round-robin pools use one method: each available rep earns its
weight in credit per lead, the rep with the most credit is picked (ties go to
the first in the pool's order) and pays back the total weight handed out. Only
available reps earn credit, so a rep back from absence or newly added starts
level (no flood, no starvation), and editing a pool keeps everyone's credit.
Round robin is the same with every weight 1. This must match the Lua script of
the Redis store line for line; the contract tests run both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from router.plan import Candidate, Pick

Skips = list[tuple[str, str]]
Loads = Mapping[tuple[str, str], int]


def available(
    pick: Pick, loads: Loads, unavailable: Callable[[str], str | None] | None
) -> tuple[list[Candidate], Skips]:
    """Candidates left after run-time availability (None: nobody is paused or away)
    and daily capacity; `loads` counts leads by (rep, local day)."""
    kept: list[Candidate] = []
    skipped: Skips = []
    for candidate in pick.candidates:
        if unavailable is not None:
            why = unavailable(candidate.rep)
            if why is not None:
                skipped.append((candidate.rep, why))
                continue
        capacity = candidate.capacity
        if capacity is not None:
            load = loads.get((candidate.rep, candidate.day), 0)
            if load >= capacity:
                skipped.append((candidate.rep, f"at daily capacity ({load}/{capacity})"))
                continue
        kept.append(candidate)
    return kept, skipped


def by_credit(kept: list[Candidate], credits: dict[str, float], write: bool) -> Candidate:
    """The next rep by weighted credit; with `write`, `credits` is brought up to date
    (every kept rep earns its weight, the one picked pays the total).

    Every credit is read from `credits` as it was before this lead, and the new ones
    are written at the end, as decide.lua does: a rep listed twice in one pool earns
    once, from the same stored credit.
    """
    total = 0.0
    updated: dict[str, float] = {}
    best: Candidate | None = None
    for candidate in kept:
        credit = credits.get(candidate.rep, 0.0) + candidate.weight
        updated[candidate.rep] = credit
        total += candidate.weight
        if best is None or credit > updated[best.rep]:
            best = candidate
    assert best is not None
    updated[best.rep] -= total
    if write:
        credits.update(updated)
    return best


def least_loaded(kept: list[Candidate], loads: Loads) -> Candidate:
    """The rep with the fewest leads today; ties go to the lower share of daily
    capacity used (uncapped counts as zero), then to the first in the pool's order."""
    best = kept[0]
    best_rank: tuple[int, float] | None = None
    for candidate in kept:
        load = loads.get((candidate.rep, candidate.day), 0)
        capacity = candidate.capacity
        rank = (load, load / capacity if capacity else 0.0)
        if best_rank is None or rank < best_rank:
            best, best_rank = candidate, rank
    return best
