"""The platform's processes: each started in its own session (process group), its output in a
log file, killed with SIGKILL and started again with the same command, all stopped on exit.

A child also gets PR_SET_PDEATHSIG: if the soak itself is SIGKILLed, the kernel kills its
children, so not even that leaves a port behind."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Run in the child between fork and exec (Linux; elsewhere a no-op)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def group_rss_kb(pgid: int) -> int:
    """Resident memory of every process in the group (a server and anything it forked)."""
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            raw = Path(f"/proc/{pid}/stat").read_text()
            fields = raw[raw.rindex(")") + 2 :].split()
            if int(fields[2]) == pgid:  # field 5 of stat: the process group
                total += int(fields[21]) * PAGE_KB  # field 24: resident pages
        except (OSError, ValueError, IndexError):
            continue
    return total


@dataclass
class Proc:
    """One named process slot: the same command each time it is (re)started."""

    name: str
    command: list[str]
    env: dict[str, str]
    cwd: Path
    port: int | None = None
    popen: subprocess.Popen[bytes] | None = None
    starts: int = 0
    started_at: float = 0.0
    rss_kb: dict[str, int] = field(default_factory=dict)  # label -> KB
    restarted_at: list[float] = field(default_factory=list)

    @property
    def log(self) -> Path:
        return self.cwd / f"{self.name}.log"

    def start(self) -> None:
        with self.log.open("ab") as log:
            log.write(f"--- start {self.starts + 1}: {' '.join(self.command)}\n".encode())
            log.flush()
            self.popen = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
                self.command,
                env=self.env,
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: killed as one
                preexec_fn=_die_with_parent,
            )
        self.starts += 1
        self.started_at = time.monotonic()

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal_group(self, sig: signal.Signals) -> None:
        if self.popen is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, sig)

    def kill(self) -> None:
        """SIGKILL the whole group and reap it: no clean shutdown, as a crash or an OOM kill."""
        self.signal_group(signal.SIGKILL)
        if self.popen is not None:
            self.popen.wait()

    def stop(self, grace: float = 10.0) -> None:
        if self.popen is None:
            return
        if self.popen.poll() is None:
            self.signal_group(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=grace)
        self.signal_group(signal.SIGKILL)  # whatever the leader left in its group
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)

    def sample_rss(self, label: str) -> None:
        if self.alive():
            assert self.popen is not None
            self.rss_kb[label] = group_rss_kb(self.popen.pid)

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


class Supervisor:
    """Every process the soak started; `stop_all` on any exit (the entry's finally)."""

    def __init__(self) -> None:
        self.procs: dict[str, Proc] = {}
        self.stopping = False

    def add(self, proc: Proc) -> Proc:
        self.procs[proc.name] = proc
        proc.start()
        return proc

    def died(self) -> list[Proc]:
        """Processes that exited on their own (not killed by the chaos, which restarts at once)."""
        if self.stopping:
            return []
        return [p for p in self.procs.values() if p.popen is not None and not p.alive()]

    def sample_rss(self, label: str) -> None:
        for proc in self.procs.values():
            proc.sample_rss(label)

    def stop_all(self) -> None:
        self.stopping = True
        # Reverse order: the load's targets first, the devnet and the proxy last.
        for proc in reversed(list(self.procs.values())):
            proc.stop()
