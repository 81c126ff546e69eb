"""The worker pool as a state machine: bookkeeping and decisions, no processes.

Theory of operation: the master (fasthttpd.workers.master) owns the processes and
tells the pool what happened: a worker was started, became ready, was heard from,
is stopping by itself (request limit), used this much memory, exited. Every tick
it calls `tick(now)`, which returns the actions to take: spawn a worker, send one
SIGTERM, send one SIGKILL. Time is a parameter, so unit tests drive every path with
a fake clock and no process.

A worker record moves through three phases:

    STARTING --ready--> READY --retire--> RETIRING --exit--> (removed)
        |                 |
        +----- exit ------+--> (removed; an unexpected exit is a crash)

The pool keeps `desired` workers "fresh": alive, not retiring, not due for
replacement. A worker becomes *due* for replacement (TTL reached, memory above the
limit, a reload) without being stopped: it keeps serving until enough fresh
workers are READY, and only then is it retired. So a recycle or a reload never
leaves fewer than `desired` workers serving (unless one crashes meanwhile).

Crashes: an unexpected exit less than `crash_window` seconds after a start counts
toward a crash loop; restarts after a crash are delayed with exponential backoff;
`crash_limit` quick deaths in a row is a crash loop. Then the pool stops everything
and the master exits non-zero, unless `pause_on_crash_loop` is set (development
reload mode), where the pool waits for the next reload instead.
"""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass, field

# Backoff before restarting after the n-th quick crash in a row: 0.1 s, 0.2 s,
# 0.4 s ... capped. Short at first (a one-off crash should cost little capacity),
# long enough later that a crash loop does not eat a core.
BACKOFF_BASE = 0.1
BACKOFF_MAX = 10.0

# How long a worker that missed its heartbeats, or never became ready, gets
# between SIGTERM and SIGKILL. Its event loop is probably blocked, so it is unlikely
# to finish anything; a short grace still lets a merely slow one exit cleanly.
UNRESPONSIVE_KILL_GRACE = 3.0

# Extra seconds past --timeout-graceful-shutdown before a retiring worker is
# killed: the server's own deadline cancels what is left, this covers its
# lifespan shutdown and exit.
RETIRE_MARGIN = 5.0


class Phase(enum.Enum):
    STARTING = "starting"
    READY = "ready"
    RETIRING = "retiring"


# Why a worker left the pool; the keys of `restarts` and the metrics' labels.
CRASH = "crash"
HEARTBEAT = "heartbeat"
STARTUP_TIMEOUT = "startup_timeout"
MAX_REQUESTS = "max_requests"
MAX_RSS = "max_rss"
TTL = "ttl"
RELOAD = "reload"
SCALE_DOWN = "scale_down"
SHUTDOWN = "shutdown"

# Reasons that need no replacement, so they are not counted as restarts.
NOT_RESTARTS = frozenset({SCALE_DOWN, SHUTDOWN})


@dataclass
class PoolSettings:
    desired: int
    heartbeat_timeout: float = 30.0
    startup_timeout: float = 60.0
    crash_window: float = 5.0
    crash_limit: int = 5
    retire_grace: float = 35.0  # --timeout-graceful-shutdown + RETIRE_MARGIN
    ttl: float = 0.0  # 0: never
    max_rss_bytes: int = 0  # 0: never
    pause_on_crash_loop: bool = False


@dataclass(eq=False)
class WorkerRecord:
    id: int
    generation: int
    started_at: float
    last_seen: float
    phase: Phase = Phase.STARTING
    pid: int | None = None
    due: str | None = None  # why it should be replaced once others are ready
    retire_reason: str | None = None
    kill_at: float | None = None  # SIGKILL deadline once retiring
    killed: bool = False

    @property
    def is_retiring(self) -> bool:
        return self.retire_reason is not None

    @property
    def is_fresh(self) -> bool:
        return self.retire_reason is None and self.due is None


@dataclass(frozen=True)
class Spawn:
    worker: WorkerRecord


@dataclass(frozen=True)
class Terminate:
    worker: WorkerRecord
    reason: str


@dataclass(frozen=True)
class Kill:
    worker: WorkerRecord
    reason: str


Action = Spawn | Terminate | Kill


def backoff_delay(consecutive_crashes: int) -> float:
    if consecutive_crashes <= 0:
        return 0.0
    return min(BACKOFF_BASE * 2 ** (consecutive_crashes - 1), BACKOFF_MAX)


@dataclass
class WorkerPool:
    settings: PoolSettings
    workers: list[WorkerRecord] = field(default_factory=list)
    generation: int = 0
    restarts: Counter[str] = field(default_factory=Counter)
    consecutive_crashes: int = 0
    last_crash_at: float = float("-inf")
    last_crash_cause: str = ""
    crash_looped: bool = False  # stopping because of a crash loop
    paused: bool = False  # crash loop in reload mode: wait for the next reload
    stopping: bool = False
    _next_id: int = 0
    _pending: list[Action] = field(default_factory=list)

    # -- events from the master ------------------------------------------------

    def started(self, worker: WorkerRecord, pid: int) -> None:
        worker.pid = pid

    def ready(self, worker: WorkerRecord, now: float) -> None:
        worker.last_seen = now
        if worker.phase is Phase.STARTING:
            worker.phase = Phase.READY

    def heard_from(self, worker: WorkerRecord, now: float) -> None:
        worker.last_seen = now

    def stopping_by_itself(self, worker: WorkerRecord, reason: str, now: float) -> None:
        """The worker reached its request limit and is shutting down gracefully."""
        if not worker.is_retiring:
            self._retire(worker, reason, now, self.settings.retire_grace, signal=False)

    def memory_used(self, worker: WorkerRecord, rss_bytes: int) -> None:
        limit = self.settings.max_rss_bytes
        # Only a serving worker is judged: one still importing the app has not
        # settled, and replacing it would only start the same thing again.
        if limit and rss_bytes > limit and worker.is_fresh and worker.phase is Phase.READY:
            worker.due = MAX_RSS

    def exited(self, worker: WorkerRecord, now: float, cause: str) -> bool:
        """Forget an exited worker; True when the exit was unexpected (a crash)."""
        self.workers.remove(worker)
        if worker.is_retiring:
            return False
        self.restarts[CRASH] += 1
        if now - worker.started_at < self.settings.crash_window:
            self._count_quick_crash(now, cause)
        return True

    def reload(self) -> None:
        """Replace every worker by a new generation; the old ones retire once it is ready."""
        self.generation += 1
        for worker in self.workers:
            if not worker.is_retiring:
                worker.due = RELOAD
        # A reload is a new chance for fixed code: forget the crash history.
        self.paused = False
        self.consecutive_crashes = 0
        self.last_crash_at = float("-inf")

    def scale(self, delta: int) -> None:
        self.settings.desired = max(1, self.settings.desired + delta)

    def shutdown(self, now: float) -> None:
        """Stop every worker gracefully; a second call hurries them.

        The second time, every worker is signalled again and gets only
        UNRESPONSIVE_KILL_GRACE more seconds before SIGKILL.
        """
        hurry = self.stopping
        self.stopping = True
        for worker in self.workers:
            if hurry or not worker.is_retiring:
                self._retire(worker, worker.retire_reason or SHUTDOWN, now,
                             self.settings.retire_grace, signal=True)
            if hurry and worker.kill_at is not None:
                worker.kill_at = min(worker.kill_at, now + UNRESPONSIVE_KILL_GRACE)

    # -- state read by the master and the admin endpoints ----------------------

    @property
    def finished(self) -> bool:
        return self.stopping and not self.workers

    @property
    def exit_code(self) -> int:
        return 1 if self.crash_looped else 0

    def serving(self) -> list[WorkerRecord]:
        return [w for w in self.workers if w.phase is Phase.READY]

    @property
    def is_ready(self) -> bool:
        """At least one worker accepts and the pool is not stopping.

        RoadRunner's meaning of ready: the service can take traffic, so a load balancer
        may send it some. How many workers are up is what /health and the metrics show.
        """
        return not self.stopping and bool(self.serving())

    # -- decisions ---------------------------------------------------------------

    def tick(self, now: float) -> list[Action]:
        actions, self._pending = self._pending, []
        for worker in list(self.workers):
            self._check_deadlines(worker, now)
        self._reset_crash_count_after_survival(now)
        if self.stopping:
            self._kill_overdue(now)
            actions.extend(self._pending)
            self._pending = []
            return actions
        self._spawn_or_shrink(now)
        self._retire_replaced(now)
        self._kill_overdue(now)
        actions.extend(self._pending)
        self._pending = []
        return actions

    def _check_deadlines(self, worker: WorkerRecord, now: float) -> None:
        if worker.is_retiring or self.stopping:
            return
        settings = self.settings
        if worker.phase is Phase.STARTING:
            if now - worker.started_at > settings.startup_timeout:
                self._retire(worker, STARTUP_TIMEOUT, now, UNRESPONSIVE_KILL_GRACE,
                             signal=True)
                self._count_quick_crash(now, f"worker {worker.pid} did not become ready "
                                        f"within {settings.startup_timeout:g}s")
            return
        if now - worker.last_seen > settings.heartbeat_timeout:
            self._retire(worker, HEARTBEAT, now, UNRESPONSIVE_KILL_GRACE, signal=True)
        elif settings.ttl and worker.due is None and now - worker.started_at >= settings.ttl:
            worker.due = TTL

    def _reset_crash_count_after_survival(self, now: float) -> None:
        if not self.consecutive_crashes:
            return
        window = self.settings.crash_window
        for worker in self.workers:
            survived = now - worker.started_at >= window
            if worker.started_at > self.last_crash_at and survived and not worker.is_retiring:
                self.consecutive_crashes = 0
                return

    def _spawn_or_shrink(self, now: float) -> None:
        fresh = [w for w in self.workers if w.is_fresh]
        missing = self.settings.desired - len(fresh)
        if missing > 0:
            if self.paused or now < self.last_crash_at + backoff_delay(self.consecutive_crashes):
                return
            for _ in range(missing):
                self._pending.append(Spawn(self._new_record(now)))
        elif missing < 0:
            # Shrink: drop workers still starting first (they serve nothing), then
            # the oldest (the likeliest to have grown).
            fresh.sort(key=lambda w: (w.phase is not Phase.STARTING, w.started_at))
            for worker in fresh[:-missing]:
                self._retire(worker, SCALE_DOWN, now, self.settings.retire_grace, signal=True)

    def _retire_replaced(self, now: float) -> None:
        due = [w for w in self.workers if w.due is not None and not w.is_retiring]
        if not due:
            return
        # A due worker that is not serving yet can go at once.
        for worker in due:
            if worker.phase is Phase.STARTING:
                self._retire(worker, worker.due or RELOAD, now, self.settings.retire_grace,
                             signal=True)
        due = sorted((w for w in due if not w.is_retiring), key=lambda w: w.started_at)
        ready_fresh = sum(1 for w in self.workers if w.is_fresh and w.phase is Phase.READY)
        surplus = ready_fresh + len(due) - self.settings.desired
        for worker in due[:max(0, surplus)]:
            self._retire(worker, worker.due or RELOAD, now, self.settings.retire_grace,
                         signal=True)

    def _kill_overdue(self, now: float) -> None:
        for worker in self.workers:
            if worker.kill_at is not None and now >= worker.kill_at and not worker.killed:
                worker.killed = True
                self._pending.append(Kill(worker, worker.retire_reason or SHUTDOWN))

    def _retire(self, worker: WorkerRecord, reason: str, now: float, grace: float, *,
                signal: bool) -> None:
        first_time = not worker.is_retiring
        worker.retire_reason = reason
        worker.phase = Phase.RETIRING
        if worker.kill_at is None:
            worker.kill_at = now + grace
        if first_time and reason not in NOT_RESTARTS:
            self.restarts[reason] += 1
        if signal:
            self._pending.append(Terminate(worker, reason))

    def _count_quick_crash(self, now: float, cause: str) -> None:
        self.consecutive_crashes += 1
        self.last_crash_at = now
        self.last_crash_cause = cause
        if self.consecutive_crashes < self.settings.crash_limit:
            return
        if self.settings.pause_on_crash_loop:
            self.paused = True
        else:
            self.crash_looped = True
            self.shutdown(now)

    def _new_record(self, now: float) -> WorkerRecord:
        self._next_id += 1
        record = WorkerRecord(id=self._next_id, generation=self.generation, started_at=now,
                              last_seen=now)
        self.workers.append(record)
        return record
