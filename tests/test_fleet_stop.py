"""A worker stops on SIGTERM even when a cancellation is lost on the way."""

from __future__ import annotations

import asyncio

from bot.service.fleet import cancel_until_done


async def stubborn(lost: int, seen: list[str]) -> None:
    """Run until cancelled, losing the first `lost` cancellations as redis-py can."""
    while True:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            seen.append("cancelled")
            if len(seen) <= lost:
                task = asyncio.current_task()
                assert task is not None
                task.uncancel()
                continue
            raise


async def test_a_lost_cancellation_is_asked_again_until_the_task_ends() -> None:
    seen: list[str] = []
    task = asyncio.create_task(stubborn(2, seen))
    await asyncio.sleep(0)  # the task waits

    assert await cancel_until_done(task, every=0, attempts=10)

    assert task.cancelled()
    assert seen == ["cancelled"] * 3


async def test_a_task_that_does_not_end_is_reported_not_waited_for_forever() -> None:
    seen: list[str] = []
    task = asyncio.create_task(stubborn(3, seen))
    await asyncio.sleep(0)

    assert not await cancel_until_done(task, every=0, attempts=3)

    assert not task.done() and len(seen) == 3
    assert await cancel_until_done(task, every=0, attempts=1)  # the fourth is not lost
