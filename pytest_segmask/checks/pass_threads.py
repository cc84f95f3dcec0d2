"""Threads for the label passes' parts, kept from one pass to the next.

Why: a new thread started while the process's other threads were busy began its work 2–4 ms
later on the project's machine (a fresh 8192² × 3 sparse pass: the first channel's second
thread began its first part 2.5–3.7 ms after it was started, 0.1–0.3 ms on a kept thread), and
meanwhile one core did the pass alone. A mask's channels, and the masks after it, reuse the
same few threads; a job runs like a thread of its own (``start`` once, ``join``, ``ident``,
``is_alive``), and a job that raises ends its thread as a thread of its own would, reported by
``threading.excepthook``.
"""

from __future__ import annotations

import os
import threading
from queue import SimpleQueue

IDLE_KEPT = 4  # mutation: equivalent — threads kept only (a job finds a kept thread or starts one)

_idle: list[SimpleQueue] = []  # the job queue of each kept thread waiting for work
_idle_lock = threading.Lock()


class PassJob:
    """``target(*args)`` on a kept thread (or a new one when none is idle)."""

    def __init__(self, target, args: tuple = (), name: str = "segmask-pass") -> None:
        self._target, self._args, self.name = target, args, name
        self.ident: int | None = None  # the thread's, once the job runs
        self._queued = False
        self._done = threading.Event()

    def start(self) -> None:
        if self._queued:
            raise RuntimeError("a pass job is started once")
        self._queued = True
        with _idle_lock:
            jobs = _idle.pop() if _idle else None
        if jobs is None:
            jobs = SimpleQueue()
            threading.Thread(target=_serve, args=(jobs,), name=self.name, daemon=True).start()  # mutation: equivalent — an abandoned pass does not hold up the exit
        jobs.put(self)

    @property
    def started(self) -> bool:
        return self._queued

    def is_alive(self) -> bool:
        return self._queued and not self._done.is_set()

    def join(self, timeout: float | None = None) -> None:
        if not self._queued:
            raise RuntimeError("cannot join a pass job before it is started")
        self._done.wait(timeout)


def _serve(jobs: SimpleQueue) -> None:
    me = threading.current_thread()
    while True:
        job: PassJob = jobs.get()
        job.ident = me.ident
        me.name = job.name
        try:
            job._target(*job._args)
        except BaseException:
            job._done.set()
            raise  # this thread ends, as the job's own thread would have
        with _idle_lock:
            kept = len(_idle) < IDLE_KEPT
            if kept:  # idle before done: the next job, started once this one is joined, finds it
                _idle.append(jobs)
        job._done.set()
        if not kept:
            return


def _forget_threads() -> None:
    """A forked child has none of its parent's threads: their queues would never be served (and
    the lock may have been held by one of them)."""
    global _idle_lock
    _idle.clear()
    _idle_lock = threading.Lock()


if hasattr(os, "register_at_fork"):  # POSIX (Windows has no fork)
    os.register_at_fork(after_in_child=_forget_threads)
