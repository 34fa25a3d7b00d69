"""A worker letting go of a partition must end the partition's task, even when a
cancellation is dropped on the way (anxin.cluster.worker.cancelled).

Python 3.11's ``asyncio.wait_for`` — inside nats-py's fetch — returns a result that
arrived in the same loop turn as the cancellation and drops the cancellation. In CI a
worker's lease round then awaited a partition task that went on fetching, for ever: no
heartbeat, and the worker fell out of the cluster while its process lived on."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from anxin.cluster.worker import Worker, cancelled
from anxin.serve.config import ServeConfig
from anxin.store.database import Store


async def _ends_within(coro: Any, seconds: float) -> bool:
    """Whether ``coro`` finishes within ``seconds`` — waited for without cancelling it (a
    timeout that cancelled would itself be the second cancellation)."""
    task = asyncio.ensure_future(coro)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    return task in done


async def _deaf_once(state: dict[str, int]) -> None:
    """A consumer loop whose first cancellation is lost, as a fetch's is when a message
    arrives in the same turn."""
    while True:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            state["dropped"] += 1
            if state["dropped"] > 1:
                raise


def test_a_dropped_cancellation_is_repeated_until_the_task_ends() -> None:
    async def main() -> tuple[bool, int]:
        state = {"dropped": 0}
        task = asyncio.create_task(_deaf_once(state))
        await asyncio.sleep(0)
        assert await _ends_within(cancelled(task, every_s=0.01), 5)
        return task.cancelled(), state["dropped"]

    ended_cancelled, dropped = asyncio.run(main())
    assert ended_cancelled and dropped == 2


def test_a_fetch_loop_racing_its_messages_is_ended() -> None:
    """The real primitive: a loop on ``wait_for(queue.get())`` cancelled in the very turn a
    message is put — whether this Python drops the cancellation or not, the loop ends."""

    async def main() -> tuple[bool, int]:
        queue: asyncio.Queue[int] = asyncio.Queue()
        got: list[int] = []

        async def consume() -> None:
            while True:
                got.append(await asyncio.wait_for(queue.get(), timeout=10))

        task = asyncio.create_task(consume())
        await asyncio.sleep(0)  # it waits on the queue
        queue.put_nowait(1)
        assert await _ends_within(cancelled(task, every_s=0.01), 5)
        return task.cancelled(), len(got)

    ended, _ = asyncio.run(main())
    assert ended


def test_a_worker_letting_go_ends_a_partition_task_that_dropped_its_cancellation(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "db.sqlite"))
    worker = Worker(ServeConfig(db=store.url, clock_every_s=0), store, name="w1")

    async def main() -> tuple[bool, int]:
        state = {"dropped": 0}
        worker.tasks[3] = asyncio.create_task(_deaf_once(state))
        await asyncio.sleep(0)
        assert await _ends_within(worker._let_go(3, checkpoint=False), 5)
        return 3 in worker.tasks, state["dropped"]

    try:
        still_held, dropped = asyncio.run(main())
    finally:
        worker._pool.shutdown()
        store.close()
    assert not still_held and dropped == 2
