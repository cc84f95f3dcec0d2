"""Kept threads for the passes' parts (pass_threads.PassJob)."""

from __future__ import annotations

import subprocess
import sys
import threading
import textwrap

import pytest

from pytest_segmask.checks import pass_threads
from pytest_segmask.checks.pass_threads import PassJob


def test_a_job_runs_on_a_kept_thread_named_for_it():
    got = []

    def record(tag):
        got.append((tag, threading.current_thread().name, threading.get_ident()))

    first = PassJob(record, ("a",), name="segmask-pass-0")
    assert not first.started and not first.is_alive()
    first.start()
    first.join(20)
    assert first.started and not first.is_alive()
    second = PassJob(record, ("b",), name="segmask-pass-1")
    second.start()
    second.join(20)
    (tag_a, name_a, ident_a), (tag_b, name_b, ident_b) = got
    assert (tag_a, name_a, tag_b, name_b) == ("a", "segmask-pass-0", "b", "segmask-pass-1")
    assert ident_a == ident_b == first.ident == second.ident  # the first job's thread was kept
    with pytest.raises(RuntimeError, match="started once"):
        first.start()
    with pytest.raises(RuntimeError, match="before it is started"):
        PassJob(record).join()


def test_jobs_at_once_get_threads_of_their_own_and_at_most_a_few_are_kept():
    jobs = 2 * pass_threads.IDLE_KEPT + 1
    barrier = threading.Barrier(jobs, timeout=20)  # every job waits for all: each needs its own thread
    idents = []
    running = [PassJob(lambda: idents.append((barrier.wait(), threading.get_ident()))) for _ in range(jobs)]
    for job in running:
        job.start()
    for job in running:
        job.join(30)
    assert len({ident for _, ident in idents}) == jobs
    assert len(pass_threads._idle) <= pass_threads.IDLE_KEPT


def test_a_job_that_raises_is_reported_and_its_thread_not_kept(monkeypatch):
    reported = []
    monkeypatch.setattr(threading, "excepthook", lambda args: reported.append(args.exc_type))

    ran_on = []

    def boom():
        ran_on.append(threading.current_thread())
        raise ValueError("bad part")

    failing = PassJob(boom)
    failing.start()
    failing.join(20)
    assert not failing.is_alive()
    ran_on[0].join(20)  # the thread ends (the hook runs as it does)
    assert not ran_on[0].is_alive() and reported == [ValueError]
    after = PassJob(lambda: ran_on.append(threading.current_thread()))
    after.start()
    after.join(20)
    assert ran_on[1] is not ran_on[0] and not after.is_alive()


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="no fork on this platform")
def test_a_forked_child_starts_jobs_on_threads_of_its_own():
    """A child forked after jobs ran has none of the parent's kept threads: its jobs must not
    be queued for them (they would never run)."""
    script = textwrap.dedent("""
        import os, sys, warnings
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads running
        from pytest_segmask.checks.pass_threads import PassJob
        job = PassJob(lambda: None); job.start(); job.join(20)
        pid = os.fork()
        if pid == 0:
            done = []
            child = PassJob(lambda: done.append(1)); child.start(); child.join(10)
            os._exit(0 if done else 3)
        _, status = os.waitpid(pid, 0)
        sys.exit(os.waitstatus_to_exitcode(status))
    """)
    assert subprocess.run([sys.executable, "-c", script], timeout=60).returncode == 0
