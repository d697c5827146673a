"""A child process kept running beside this one: restarted with a backoff when it dies, stopped
(SIGTERM, then a wait, then SIGKILL) when this process stops. A child that exits with one of
`fatal_codes` (a configuration error: restarting cannot help) is not restarted: `on_fatal` is
called instead.

The child runs in its own session, so a Ctrl-C at the terminal reaches only the parent, which
then stops the child itself (no restart racing the shutdown). A child started here learns its
parent's pid from PARENT_PID_ENV and stops by itself when that parent is gone (`parent_gone`),
so even a parent killed with SIGKILL leaves no orphan behind.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from paywarden.kit.logging import get_logger

log = get_logger(__name__)

PARENT_PID_ENV = "PAYWARDEN_PARENT_PID"


@dataclass(frozen=True)
class Backoff:
    """Seconds before a restart: `first`, doubled at each quick death up to `most`; back to
    `first` once a child has run `stable_after` seconds."""

    first: float = 1.0
    most: float = 60.0
    stable_after: float = 60.0


class ChildProcess:
    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        backoff: Backoff | None = None,
        stop_timeout: float = 30.0,
        fatal_codes: Collection[int] = (),
        on_fatal: Callable[[int], None] | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = {**(os.environ if env is None else env), PARENT_PID_ENV: str(os.getpid())}
        self.backoff = backoff or Backoff()
        self.stop_timeout = stop_timeout
        self.fatal_codes = fatal_codes
        self.on_fatal = on_fatal
        self.fatal_code: int | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._thread = threading.Thread(target=self._keep_running, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop the child and its keeper; returns when the child has exited."""
        with self._lock:
            self._stopping.set()
            process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                log.warning("child_killed", child=self.name, pid=process.pid)
                process.kill()
                process.wait()
        self._thread.join()

    def __enter__(self) -> ChildProcess:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _keep_running(self) -> None:
        delay = self.backoff.first
        while True:
            with self._lock:  # stop() either sees this child or prevents it
                if self._stopping.is_set():
                    return
                process = subprocess.Popen(self.argv, env=self.env, start_new_session=True)  # noqa: S603
                self._process = process
            started = time.monotonic()
            log.info("child_started", child=self.name, pid=process.pid)
            code = process.wait()
            if self._stopping.is_set():
                return
            if code in self.fatal_codes:
                log.error("child_cannot_start", child=self.name, pid=process.pid, code=code)
                self.fatal_code = code
                if self.on_fatal is not None:
                    self.on_fatal(code)
                return
            if time.monotonic() - started >= self.backoff.stable_after:
                delay = self.backoff.first
            log.error("child_died", child=self.name, pid=process.pid, code=code, restart_in=delay)
            if self._stopping.wait(delay):
                return
            delay = min(delay * 2, self.backoff.most)


async def parent_gone(every: float = 1.0) -> None:
    """Returns when the parent that started this process (PARENT_PID_ENV) is no longer its
    parent; never when this process was not started by a `ChildProcess`."""
    parent = os.environ.get(PARENT_PID_ENV)
    if parent is None:
        await asyncio.Event().wait()
    while os.getppid() == int(parent or 0):  # noqa: ASYNC110 - no event tells of a new parent
        await asyncio.sleep(every)
