"""Memory of process trees for the benchmarks, from /proc.

Sums over the processes of a server (PostgreSQL's postmaster and backends, gunicorn's master
and workers) use PSS, the proportional set size: a page shared by k processes counts 1/k in
each, so shared buffers and the forked code count once, where summing RSS would count them
once per process. For a single process (Prometheus) PSS and RSS are about equal.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path


def children(pid: int) -> list[int]:
    """``pid`` and all its descendants that are alive now."""
    parents: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])  # the command may contain spaces and parentheses
        parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo += parents.get(current, [])
    return out


def _fields_kib(path: str, *names: str) -> list[int]:
    found = dict.fromkeys(names, 0)
    try:
        for line in Path(path).read_text().splitlines():
            name = line.split(":", 1)[0]
            if name in found:
                found[name] = int(line.split()[1])
    except OSError:
        pass  # the process has exited
    return list(found.values())


def memory_bytes(pids: list[int]) -> tuple[int, int]:
    """(PSS, RSS) summed over the processes."""
    pss = rss = 0
    for pid in pids:
        p, r = _fields_kib(f"/proc/{pid}/smaps_rollup", "Pss", "Rss")
        pss, rss = pss + p * 1024, rss + r * 1024
    return pss, rss


def peak_rss_bytes(pid: int) -> int:
    """The highest RSS the process ever had (VmHWM)."""
    return _fields_kib(f"/proc/{pid}/status", "VmHWM")[0] * 1024


def postmaster_pid(datadir: Path) -> int:
    return int((datadir / "postmaster.pid").read_text().split()[0])


class PeakMemory:
    """Samples the memory of process groups every ``interval`` seconds in a thread; ``peaks``
    holds the highest PSS sum seen per group, ``rss_peaks`` the highest RSS sum. A group is a
    function returning its current pids."""

    def __init__(self, groups: dict[str, Callable[[], list[int]]], interval: float = 5.0):
        self.groups = groups
        self.interval = interval
        self.peaks = dict.fromkeys(groups, 0)
        self.rss_peaks = dict.fromkeys(groups, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="peak-memory", daemon=True)

    def sample(self) -> None:
        for name, pids in self.groups.items():
            try:
                pss, rss = memory_bytes(pids())
            except (OSError, ValueError):
                continue  # a server restarting
            self.peaks[name] = max(self.peaks[name], pss)
            self.rss_peaks[name] = max(self.rss_peaks[name], rss)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()
