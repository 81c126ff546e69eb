"""The pool's decisions, driven with a fake clock: no process is started."""

from __future__ import annotations

import pytest

from fasthttpd.workers.pool import (
    BACKOFF_MAX,
    CRASH,
    HEARTBEAT,
    MAX_REQUESTS,
    MAX_RSS,
    RELOAD,
    STARTUP_TIMEOUT,
    TTL,
    UNRESPONSIVE_KILL_GRACE,
    Kill,
    Phase,
    PoolSettings,
    Spawn,
    Terminate,
    WorkerPool,
    WorkerRecord,
    backoff_delay,
)


def make_pool(desired: int = 2, **overrides: object) -> WorkerPool:
    settings = PoolSettings(desired=desired, heartbeat_timeout=10.0, startup_timeout=20.0,
                            crash_window=5.0, crash_limit=3, retire_grace=30.0)
    for name, value in overrides.items():
        setattr(settings, name, value)
    return WorkerPool(settings)


def spawned(actions: list) -> list[WorkerRecord]:
    return [a.worker for a in actions if isinstance(a, Spawn)]


def terminated(actions: list) -> list[tuple[WorkerRecord, str]]:
    return [(a.worker, a.reason) for a in actions if isinstance(a, Terminate)]


def killed(actions: list) -> list[WorkerRecord]:
    return [a.worker for a in actions if isinstance(a, Kill)]


def start_all(pool: WorkerPool, now: float) -> list[WorkerRecord]:
    """Tick, pretend every spawned worker started and became ready."""
    workers = spawned(pool.tick(now))
    for worker in workers:
        pool.started(worker, 1000 + worker.id)
        pool.ready(worker, now)
    return workers


def test_spawns_the_desired_count_once() -> None:
    pool = make_pool(desired=3)
    assert len(spawned(pool.tick(0.0))) == 3
    assert spawned(pool.tick(0.1)) == []  # starting workers count: no double spawn
    assert not pool.is_ready


def test_ready_as_soon_as_one_worker_accepts_and_not_while_stopping() -> None:
    pool = make_pool(desired=2)
    first, second = spawned(pool.tick(0.0))
    assert not pool.is_ready
    pool.ready(first, 0.5)
    assert pool.is_ready and len(pool.serving()) == 1
    pool.ready(second, 0.6)
    assert pool.is_ready and len(pool.serving()) == 2
    pool.shutdown(1.0)
    assert not pool.is_ready


def test_unexpected_exit_is_a_crash_and_is_replaced() -> None:
    pool = make_pool(desired=2)
    first, second = start_all(pool, 0.0)
    pool.heard_from(second, 99.0)
    # Long after the crash window: not part of a crash loop, replaced at once.
    assert pool.exited(first, 100.0, "killed by SIGKILL") is True
    assert pool.restarts[CRASH] == 1
    assert pool.consecutive_crashes == 0
    assert len(spawned(pool.tick(100.0))) == 1


def test_quick_crashes_back_off_exponentially() -> None:
    pool = make_pool(desired=1, crash_limit=10)
    now = 0.0
    delays = []
    for _ in range(4):
        (worker,) = spawned(pool.tick(now))
        now += 0.5
        pool.exited(worker, now, "exit code 1")
        # No respawn before the backoff delay has passed.
        delay = backoff_delay(pool.consecutive_crashes)
        assert spawned(pool.tick(now + delay * 0.9)) == []
        delays.append(delay)
        now += delay
    assert delays == [0.1, 0.2, 0.4, 0.8]
    assert backoff_delay(100) == BACKOFF_MAX


def test_crash_loop_stops_the_pool_with_an_error_code() -> None:
    pool = make_pool(desired=2, crash_limit=3)
    now = 0.0
    while not pool.crash_looped:
        for worker in spawned(pool.tick(now)):
            pool.started(worker, 1)
            pool.exited(worker, now + 0.2, "exit code 3: cannot import module 'nope'")
        now += 1.0
        assert now < 20, "crash loop never detected"
    assert pool.stopping
    assert pool.exit_code == 1
    assert "cannot import" in pool.last_crash_cause
    assert spawned(pool.tick(now)) == []
    assert pool.finished


def test_crash_count_resets_once_a_new_worker_survives_the_window() -> None:
    pool = make_pool(desired=1, crash_limit=3)
    (worker,) = spawned(pool.tick(0.0))
    pool.exited(worker, 1.0, "exit code 1")
    (worker,) = spawned(pool.tick(2.0))
    pool.exited(worker, 3.0, "exit code 1")
    assert pool.consecutive_crashes == 2
    (survivor,) = spawned(pool.tick(4.0))
    pool.ready(survivor, 4.5)
    pool.tick(4.0 + pool.settings.crash_window)
    assert pool.consecutive_crashes == 0
    # So two more quick crashes do not make a loop.
    pool.exited(survivor, 20.0, "exit code 1")
    assert not pool.crash_looped


def test_crash_loop_pauses_instead_in_reload_mode_until_the_next_reload() -> None:
    pool = make_pool(desired=1, crash_limit=2, pause_on_crash_loop=True)
    now = 0.0
    for _ in range(2):
        (worker,) = spawned(pool.tick(now))
        pool.exited(worker, now + 0.1, "SyntaxError")
        now += 1.0
    assert pool.paused and not pool.stopping
    assert spawned(pool.tick(now + 60)) == []
    pool.reload()
    assert len(spawned(pool.tick(now + 61))) == 1


def test_silent_worker_gets_sigterm_then_sigkill_and_a_replacement() -> None:
    pool = make_pool(desired=1)
    (worker,) = start_all(pool, 0.0)
    pool.heard_from(worker, 5.0)
    assert terminated(pool.tick(14.0)) == []  # 9 s of silence: within the timeout
    actions = pool.tick(15.5)
    assert terminated(actions) == [(worker, HEARTBEAT)]
    assert len(spawned(actions)) == 1  # replaced at once: it serves nothing
    assert pool.restarts[HEARTBEAT] == 1
    assert killed(pool.tick(15.5 + UNRESPONSIVE_KILL_GRACE - 0.1)) == []
    assert killed(pool.tick(15.5 + UNRESPONSIVE_KILL_GRACE)) == [worker]
    assert killed(pool.tick(30.0)) == []  # one SIGKILL only
    assert pool.exited(worker, 30.0, "killed by SIGKILL") is False  # expected, not a crash


def test_worker_that_never_becomes_ready_is_killed_and_counts_as_a_crash() -> None:
    pool = make_pool(desired=1, startup_timeout=20.0)
    (worker,) = spawned(pool.tick(0.0))
    assert terminated(pool.tick(19.0)) == []
    assert terminated(pool.tick(20.5)) == [(worker, STARTUP_TIMEOUT)]
    assert pool.consecutive_crashes == 1


def test_request_limit_starts_a_replacement_while_the_old_worker_drains() -> None:
    pool = make_pool(desired=2)
    first, second = start_all(pool, 0.0)
    pool.stopping_by_itself(first, MAX_REQUESTS, 10.0)
    actions = pool.tick(10.0)
    assert len(spawned(actions)) == 1
    assert terminated(actions) == []  # it stops by itself: a SIGTERM would force it
    assert pool.restarts[MAX_REQUESTS] == 1
    assert pool.exited(first, 10.5, "exit code 0") is False
    # It is killed only past the graceful deadline.
    pool.stopping_by_itself(second, MAX_REQUESTS, 11.0)
    pool.tick(11.0)
    assert killed(pool.tick(11.0 + pool.settings.retire_grace)) == [second]


def test_reload_retires_old_workers_only_as_new_ones_become_ready() -> None:
    pool = make_pool(desired=2)
    old = start_all(pool, 0.0)
    pool.reload()
    actions = pool.tick(1.0)
    new = spawned(actions)
    assert len(new) == 2 and all(w.generation == 1 for w in new)
    assert terminated(actions) == []  # nobody new is ready: the old ones keep serving
    assert pool.is_ready  # the old ones still serve
    pool.ready(new[0], 1.5)
    actions = pool.tick(1.5)
    assert terminated(actions) == [(old[0], RELOAD)]  # one ready: one old retires
    assert len(pool.serving()) == 2
    pool.ready(new[1], 2.0)
    assert terminated(pool.tick(2.0)) == [(old[1], RELOAD)]
    assert spawned(pool.tick(2.0)) == []
    assert pool.restarts[RELOAD] == 2


def test_ttl_and_memory_recycle_after_the_replacement_is_ready() -> None:
    pool = make_pool(desired=1, ttl=60.0, max_rss_bytes=100 * 2**20)
    (worker,) = start_all(pool, 0.0)
    pool.memory_used(worker, 50 * 2**20)
    assert spawned(pool.tick(10.0)) == []
    pool.memory_used(worker, 150 * 2**20)
    pool.heard_from(worker, 10.0)
    actions = pool.tick(11.0)
    (replacement,) = spawned(actions)
    assert terminated(actions) == []
    pool.ready(replacement, 12.0)
    assert terminated(pool.tick(12.0)) == [(worker, MAX_RSS)]
    # The replacement reaches its TTL later and is recycled the same way.
    pool.heard_from(replacement, 11.0 + 59.0)
    (third,) = spawned(pool.tick(11.0 + 60.0))
    pool.ready(third, 72.0)
    assert terminated(pool.tick(72.0)) == [(replacement, TTL)]


def test_memory_of_a_worker_still_starting_is_not_judged() -> None:
    pool = make_pool(desired=1, max_rss_bytes=1)
    (worker,) = spawned(pool.tick(0.0))
    pool.memory_used(worker, 50 * 2**20)
    actions = pool.tick(1.0)
    assert spawned(actions) == [] and terminated(actions) == []
    assert worker.due is None


def test_replacement_that_crashes_leaves_the_old_worker_serving() -> None:
    pool = make_pool(desired=1)
    (old,) = start_all(pool, 0.0)
    pool.reload()
    (new,) = spawned(pool.tick(1.0))
    pool.exited(new, 1.2, "exit code 3")
    assert old.phase is Phase.READY and not old.is_retiring
    assert terminated(pool.tick(1.2)) == []


def test_scale_up_and_down() -> None:
    pool = make_pool(desired=2)
    workers = start_all(pool, 0.0)
    pool.scale(+1)
    assert len(spawned(pool.tick(1.0))) == 1
    pool.scale(-1)
    pool.scale(-1)
    actions = pool.tick(2.0)
    # The one still starting goes first, then the oldest.
    retired = [w for w, reason in terminated(actions)]
    assert len(retired) == 2 and workers[0] in retired
    assert all(reason == "scale_down" for _, reason in terminated(actions))
    assert sum(pool.restarts.values()) == 0  # shrinking is not a restart
    pool.scale(-5)
    assert pool.settings.desired == 1


def test_shutdown_terminates_everyone_then_kills_past_the_deadline() -> None:
    pool = make_pool(desired=2)
    first, second = start_all(pool, 0.0)
    pool.shutdown(5.0)
    actions = pool.tick(5.0)
    assert sorted(w.id for w, _ in terminated(actions)) == [first.id, second.id]
    assert spawned(actions) == []
    assert not pool.is_ready
    pool.exited(first, 6.0, "exit code 0")
    assert killed(pool.tick(5.0 + 30.0)) == [second]
    pool.exited(second, 35.1, "killed by SIGKILL")
    assert pool.finished and pool.exit_code == 0


def test_second_shutdown_signals_again_and_shortens_the_deadline() -> None:
    pool = make_pool(desired=1)
    (worker,) = start_all(pool, 0.0)
    pool.shutdown(1.0)
    assert len(terminated(pool.tick(1.0))) == 1
    pool.shutdown(2.0)
    assert terminated(pool.tick(2.0)) == [(worker, "shutdown")]
    assert killed(pool.tick(2.0 + UNRESPONSIVE_KILL_GRACE)) == [worker]


@pytest.mark.parametrize("desired", [1, 4])
def test_exit_of_a_retiring_worker_is_not_a_crash(desired: int) -> None:
    pool = make_pool(desired=desired)
    workers = start_all(pool, 0.0)
    pool.reload()
    for worker in spawned(pool.tick(1.0)):
        pool.ready(worker, 1.0)
    pool.tick(1.0)
    for worker in workers:
        assert pool.exited(worker, 1.1, "exit code 0") is False
    assert pool.restarts[CRASH] == 0
