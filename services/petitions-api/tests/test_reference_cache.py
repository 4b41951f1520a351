"""Reference data from memory: a load in this process is seen at once, another process's
load within the TTL, and a snapshot holds only what the database holds."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from sqlalchemy import update

from gov_common.db import unit_of_work
from petitions_api.config import Settings
from petitions_api.reference import service as reference
from petitions_api.reference.cache import ReferenceCache, cache
from petitions_api.reference.models import Category
from petitions_api.reference.service import UnknownReferenceError, load_reference_data

pytestmark = pytest.mark.integration


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _deactivate(app: FastAPI, code: str) -> None:
    # What a load in another process does to a category dropped from its file.
    async with unit_of_work(app.state.sessions) as session:
        await session.execute(update(Category).where(Category.code == code).values(active=False))


async def test_another_process_s_change_is_seen_after_the_ttl(app: FastAPI) -> None:
    clock = Clock()
    local = ReferenceCache(ttl_s=30, clock=clock)
    async with app.state.sessions() as session:
        snapshot = await local.snapshot(session)
        code = next(c for c, category in snapshot.categories.items() if category.active)
        await session.rollback()
    try:
        await _deactivate(app, code)
        async with app.state.sessions() as session:
            assert (await local.snapshot(session)).categories[code].active  # within the TTL
            clock.now += 31
            assert not (await local.snapshot(session)).categories[code].active
    finally:
        async with unit_of_work(app.state.sessions) as session:
            await load_reference_data(session, app.state.settings)


async def test_a_load_in_this_process_is_seen_at_once(app: FastAPI, settings: Settings) -> None:
    async with app.state.sessions() as session:
        category = next(iter((await cache.snapshot(session)).categories.values()))
        await session.rollback()
    await _deactivate(app, category.code)
    cache.invalidate()
    try:
        async with app.state.sessions() as session:
            with pytest.raises(UnknownReferenceError):  # the snapshot holds it inactive
                await reference.get_category(session, category.code)
        async with unit_of_work(app.state.sessions) as session:
            await load_reference_data(session, settings)  # reactivates it
        async with app.state.sessions() as session:  # well within the TTL
            assert (await reference.get_category(session, category.code)).active
    finally:
        async with unit_of_work(app.state.sessions) as session:
            await load_reference_data(session, settings)


async def test_lookups_refuse_what_is_unknown_or_inactive(app: FastAPI) -> None:
    async with app.state.sessions() as session:
        with pytest.raises(UnknownReferenceError):
            await reference.get_category(session, "NOPE")
        with pytest.raises(UnknownReferenceError):
            await reference.get_unit(session, "999")
        place = await reference.get_unit(session, "610203002001")
        town = await reference.town_of(session, place)
        assert town is not None and town.code == "610203002"
        urgent = await reference.tier_for(session, None, urgent=True)
        assert urgent.urgent
        assert not (await reference.tier_for(session, None, urgent=False)).urgent
