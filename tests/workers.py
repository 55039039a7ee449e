"""Real Celery workers on the test Redis (tests.brokers.TEST_REDIS_URL), for integration tests.

The fixtures (tests/conftest.py) are ``celery_workers`` (start as many workers as a test needs),
``celery_worker`` (one running worker) and ``celery_worker_options`` (override it in a module to
configure that worker). A worker comes in one of two kinds:

- a ``celery -A collections_crm worker`` subprocess (the default) pointed at the test database:
  it sees only committed rows (transactional tests, PostgreSQL), may embed beat, and may be
  SIGKILLed in the middle of a task and started again;
- ``in_process=True``: a worker thread in the pytest process (celery.contrib.testing.worker): it
  shares this process's settings, so ``mail.outbox`` and setting overrides are seen.

While the fixture is active this process publishes to the test broker through fresh connection
pools; the test Redis database is flushed before and after (only the database its URL names).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

from .brokers import TEST_REDIS_URL

# The Redis transport's options, as production sets them (settings: CELERY_BROKER_TRANSPORT_OPTIONS).
REDIS_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "socket_connect_timeout": 2}
READY_TIMEOUT = 90.0


def wait_for(predicate: Callable[[], object], *, timeout: float = 60, what: str = "condition", every: float = 0.2):
    """Poll ``predicate`` until it returns something true, and return that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def _redis():
    import redis

    return redis.Redis.from_url(TEST_REDIS_URL)


def _reset_pools(app) -> None:
    """Forget connections made with the previous broker URL (they are built lazily)."""
    app._pool = None
    app.amqp._producer_pool = None


@contextlib.contextmanager
def publishing_to_test_broker() -> Iterator[object]:
    """This process publishes to the (flushed) test broker; the app's settings come back after."""
    from collections_crm.celery import app

    _redis().flushdb()
    keys = ("broker_url", "task_always_eager", "broker_transport_options", "task_default_queue")
    saved = {key: app.conf[key] for key in keys}
    app.conf.update(broker_url=TEST_REDIS_URL, task_always_eager=False, broker_transport_options=REDIS_TRANSPORT_OPTIONS)
    _reset_pools(app)
    try:
        yield app
    finally:
        app.conf.update(saved)
        _reset_pools(app)
        _redis().flushdb()


@dataclasses.dataclass(frozen=True)
class WorkerOptions:
    """How a test worker differs from the default one (a solo subprocess on the default queue)."""

    in_process: bool = False
    #: The queues it consumes (``-Q``); the first one is also the default queue of what it and
    #: its beat publish. Empty: the default queue.
    queues: Sequence[str] = ()
    #: A queue of its own, named at random: another run sharing the broker never takes its tasks.
    own_queue: bool = False
    pool: str = "solo"
    concurrency: int = 1
    #: Embedded beat (``-B``): the periodic tasks of settings.CELERY_BEAT_SCHEDULE run too.
    beat: bool = False
    #: Settings overrides for a subprocess, as the environment variables settings.py reads
    #: (``CRM_TICK_SECONDS``, ``EMAIL_URL``, ...). ``start(**env)`` adds more for one start.
    env: Mapping[str, str] = dataclasses.field(default_factory=dict)
    #: Celery configuration overrides for an in-process worker (``app.conf``).
    conf: Mapping[str, object] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if self.in_process and (self.beat or self.env):
            raise ValueError("an in-process worker has no beat and no environment of its own (use conf=)")


class CeleryWorker:
    """One test worker: ``start()``, ``stop()`` (warm shutdown), ``kill()`` (SIGKILL, subprocess
    only), and its log (``log_bytes()``). It may be started again after a stop or a kill."""

    def __init__(self, options: WorkerOptions, tmp: Path, index: int = 1):
        self.options = options
        self.tmp = tmp
        self.index = index
        self.starts = 0
        self.proc: subprocess.Popen | None = None
        self._thread: contextlib.ExitStack | None = None
        queues = list(options.queues)
        if options.own_queue:
            queues.insert(0, f"test-{uuid.uuid4().hex[:12]}")
        self.queues = queues

    @property
    def queue(self) -> str:
        """The queue it consumes first (the one tasks published by it and its beat go to)."""
        from collections_crm.celery import app

        return self.queues[0] if self.queues else app.conf.task_default_queue

    @property
    def log_path(self) -> Path:
        """The log of its latest start (subprocess)."""
        return self.tmp / f"worker-{self.index}-{self.starts}.log"

    def log_bytes(self) -> bytes:
        return self.log_path.read_bytes() if self.log_path.exists() else b""

    @property
    def running(self) -> bool:
        return self._thread is not None or (self.proc is not None and self.proc.poll() is None)

    def start(self, **env: str) -> CeleryWorker:
        if self.running:
            raise RuntimeError("this worker is already running")
        self.starts += 1
        if self.options.in_process:
            if env:
                raise ValueError("an in-process worker has no environment of its own")
            self._start_thread()
        else:
            self._start_process(env)
        return self

    def stop(self) -> None:
        """Warm shutdown: the current task finishes (SIGTERM; SIGKILL after 30 s)."""
        if self._thread is not None:
            thread, self._thread = self._thread, None
            thread.close()
        elif self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        """SIGKILL the whole process group: no warm shutdown, no acknowledgement, no clean-up."""
        if self.options.in_process:
            raise RuntimeError("an in-process worker cannot be killed")
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    # --- the two kinds ----------------------------------------------------------------------

    def _start_thread(self) -> None:
        from celery.contrib.testing.worker import start_worker

        from collections_crm.celery import app

        stack = contextlib.ExitStack()
        conf = dict(self.options.conf)
        if self.queues:
            conf.setdefault("task_default_queue", self.queues[0])
        saved = {key: app.conf[key] for key in conf}
        app.conf.update(conf)
        stack.callback(app.conf.update, saved)
        kwargs = {"queues": self.queues} if self.queues else {}
        try:
            stack.enter_context(start_worker(
                app, pool=self.options.pool, concurrency=self.options.concurrency, perform_ping_check=False,
                loglevel="WARNING", shutdown_timeout=10, **kwargs,
            ))
        except BaseException:
            stack.close()
            raise
        self._thread = stack

    def environment(self, **extra: str) -> dict[str, str]:
        """The subprocess's environment: this one's, pointed at the test database and broker."""
        from django.conf import settings
        from django.db import connection

        db = connection.settings_dict
        env = {k: v for k, v in os.environ.items() if k not in ("TEST_DATABASE_NAME", "PYTEST_CURRENT_TEST")}
        env.update(
            DATABASE_URL=f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
            CELERY_BROKER_URL=TEST_REDIS_URL,
            MEDIA_ROOT=str(settings.MEDIA_ROOT),
            CRM_VAR_DIR=str(self.tmp / "var"),
            PYTHONPATH=str(settings.BASE_DIR),
        )
        if self.queues:
            env["CELERY_TASK_DEFAULT_QUEUE"] = self.queues[0]
        env.update(self.options.env)
        env.update(extra)
        return env

    def _start_process(self, env: Mapping[str, str]) -> None:
        from django.conf import settings

        (self.tmp / "var").mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "celery", "-A", "collections_crm", "worker", f"--pool={self.options.pool}",
                   f"--concurrency={self.options.concurrency}", "--loglevel=INFO", "-n", f"test-{uuid.uuid4().hex[:8]}@%h"]
        if self.queues:
            command += ["-Q", ",".join(self.queues)]
        if self.options.beat:
            command += ["-B", "-s", str(self.tmp / "var" / f"beat-{uuid.uuid4().hex}")]
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(command, cwd=settings.BASE_DIR, env=self.environment(**env), stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_for(lambda: b" ready." in self.log_bytes() or self.proc.poll() is not None, timeout=READY_TIMEOUT,
                     what="worker ready", every=0.3)
            if self.proc.poll() is not None:
                raise AssertionError(f"the worker exited with {self.proc.returncode}:\n{self._log_tail()}")
        except BaseException:
            self.kill()
            raise

    def _log_tail(self, size: int = 3000) -> str:
        return self.log_bytes()[-size:].decode(errors="replace")


class CeleryWorkers:
    """The workers of one test (the ``celery_workers`` fixture): ``new(**options)`` makes one,
    ``start(**options)`` makes and starts one. All are stopped when the test ends."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.workers: list[CeleryWorker] = []

    def new(self, **options) -> CeleryWorker:
        worker = CeleryWorker(WorkerOptions(**options), self.tmp, index=len(self.workers) + 1)
        self.workers.append(worker)
        return worker

    def start(self, **options) -> CeleryWorker:
        return self.new(**options).start()

    def stop_all(self) -> None:
        for worker in reversed(self.workers):
            worker.stop()
        for worker in self.workers:
            if worker.starts and not worker.options.in_process:
                # Shown by pytest when the test fails.
                print(f"--- worker {worker.index}, last start ---\n{worker._log_tail()}")


@contextlib.contextmanager
def celery_workers_for_test(tmp: Path) -> Iterator[CeleryWorkers]:
    with publishing_to_test_broker():
        workers = CeleryWorkers(tmp)
        try:
            yield workers
        finally:
            workers.stop_all()
