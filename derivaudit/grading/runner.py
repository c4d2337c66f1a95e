"""Judging the distinct answers of a batch: in this process, in a pool of isolated processes, or on Dask.

:func:`judge_all` calls ``done(key, judgement)`` once per key, in the order
answers finish.  Three ways to run, one judge
(:func:`~derivaudit.grading.judge.judge`), so the verdicts are the same:

- ``workers=1``: in this process, one answer after another;
- ``workers=N``: N worker processes, each judging one answer at a time.
  Each worker is its own process group: an answer that runs past the hard
  limit (:func:`hard_seconds`, well past its own budget) or kills its worker
  is stopped with everything it started, a fresh worker takes over, and the
  answer is ``undecided`` with the reason — after a second try when its
  worker died, so that a worker killed from outside costs nobody a verdict.
  The other answers never wait for it;
- ``client``: a Dask cluster (a ``dask.distributed.Client`` or a scheduler
  address).  The task is sent to every worker once; a worker judges one
  answer at a time per process.  Workers must be allowed to start processes
  (derivaudit's symbolic proofs run in a child process that is killed at its
  budget): Dask's worker processes are daemonic unless started with
  ``DASK_DISTRIBUTED__WORKER__DAEMON=False``, and a daemonic worker refuses
  the batch instead of proving less than a local run would.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from multiprocessing.connection import wait

from derivaudit.errors import DerivauditError
from derivaudit.grading.judge import Judgement, judge
from derivaudit.grading.task import GradeTask
from derivaudit.verdicts import Verdict

__all__ = ["judge_all", "hard_seconds"]

Key = tuple[str, ...]
Done = Callable[[Key, Judgement], None]


def hard_seconds(task: GradeTask) -> float:
    """The wall-clock limit past which a worker judging one answer is killed.

    The answer's own budget (``seconds``) bounds the comparison; parsing, the
    diagnosis and the evidence have budgets of their own after it, so the
    hard limit is well beyond: ``4 × seconds + 20``.
    """
    return 4 * task.seconds + 20


def _undecided(reason: str, seconds: float) -> Judgement:
    return Judgement(Verdict.UNDECIDED.value, message=reason, seconds=seconds)


def _in_process(task: GradeTask, keys: Sequence[Key], done: Done) -> None:
    for key in keys:
        done(key, judge(task, key))


# -- a pool of isolated local workers ------------------------------------------------------------

def _serve(connection, task: GradeTask) -> None:
    """A worker's loop: judge each key received, send back its judgement; stop at None."""
    os.setpgrp()  # its own process group: killing it kills the proof processes it started
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what an interrupt stops
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        connection.send((message, judge(task, message)))


class _Worker:
    def __init__(self, context, task: GradeTask):
        self.connection, child = context.Pipe(duplex=True)
        self.process = context.Process(target=_serve, args=(child, task), daemon=False)
        self.process.start()
        child.close()
        self.key: Key | None = None
        self.started = 0.0

    def give(self, key: Key) -> None:
        self.key, self.started = key, time.monotonic()
        self.connection.send(key)

    def kill(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError, OSError):
            self.process.kill()
        self.process.join()
        self.connection.close()

    def stop(self) -> None:
        try:
            self.connection.send(None)
        except OSError:
            pass
        self.process.join(timeout=2)
        if self.process.is_alive():
            self.kill()
        else:
            self.connection.close()


def _context():
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def _collect(worker: _Worker, attempts: dict, queue: deque, done: Done, limit: float) -> bool:
    """Take the worker's finished answer, if any; False when the worker is gone (a fresh one is due)."""
    key = worker.key
    if worker.connection.poll():
        try:
            sent_key, judgement = worker.connection.recv()
        except (EOFError, OSError):
            pass
        else:
            worker.key = None
            done(sent_key, judgement)
            return True
    elapsed = time.monotonic() - worker.started
    if worker.process.is_alive() and elapsed <= limit:
        return True
    alive = worker.process.is_alive()
    worker.kill()
    if alive:
        done(key, _undecided(f"stopped: judging it took longer than {limit:g} s (the hard limit of "
                             "one answer); its worker was killed", elapsed))
    else:
        attempts[key] = attempts.get(key, 0) + 1
        if attempts[key] >= 2:
            done(key, _undecided(f"stopped: the process judging it died twice (exit code "
                                 f"{worker.process.exitcode})", elapsed))
        else:
            queue.appendleft(key)
    return False


def _pooled(task: GradeTask, keys: Sequence[Key], workers: int, done: Done) -> None:
    context, limit = _context(), hard_seconds(task)
    queue: deque[Key] = deque(keys)
    attempts: dict[Key, int] = {}
    pool = [_Worker(context, task) for _ in range(min(workers, len(keys)))]
    try:
        while queue or any(w.key is not None for w in pool):
            for worker in pool:
                if worker.key is None and queue:
                    worker.give(queue.popleft())
            busy = [w for w in pool if w.key is not None]
            soonest = min(w.started for w in busy) + limit - time.monotonic()
            wait([w.connection for w in busy] + [w.process.sentinel for w in busy],
                 timeout=max(0.0, min(soonest, 5.0)))
            for i, worker in enumerate(pool):
                if worker.key is not None and not _collect(worker, attempts, queue, done, limit):
                    pool[i] = _Worker(context, task)
    finally:
        for worker in pool:
            if worker.key is not None:
                worker.kill()  # interrupted: nothing half-judged keeps running
            else:
                worker.stop()


# -- Dask ---------------------------------------------------------------------------------------

#: mpmath's precision is process-wide: answers must not overlap in threads of one Dask worker
_ONE_AT_A_TIME = threading.Lock()


def _judge_remote(key: Key, task: GradeTask) -> Judgement:
    if multiprocessing.current_process().daemon:
        raise DerivauditError("this Dask worker is a daemonic process, which cannot start the "
                              "processes of symbolic proofs; start workers with "
                              "DASK_DISTRIBUTED__WORKER__DAEMON=False (see docs/grading.md)")
    with _ONE_AT_A_TIME:
        return judge(task, key)


def _on_dask(task: GradeTask, keys: Sequence[Key], client, done: Done) -> None:
    from derivaudit.studies.parallel import dask_client

    client, own = dask_client(client)  # one line for a missing dask or an unreachable scheduler
    from dask.distributed import as_completed

    try:
        shared = client.scatter(task, broadcast=True)
        futures = client.map(_judge_remote, list(keys), task=shared, pure=False)
        where = {future.key: key for future, key in zip(futures, keys)}
        try:
            for future in as_completed(futures):
                key = where[future.key]
                if future.status == "finished":
                    done(key, future.result())
                    continue
                error = future.exception()
                if isinstance(error, DerivauditError):
                    raise error
                done(key, _undecided(f"stopped: the Dask worker judging it failed "
                                     f"({type(error).__name__}: {error})", 0.0))
        finally:
            client.cancel(futures)
    finally:
        if own:
            client.close()


def judge_all(task: GradeTask, keys: Sequence[Key], done: Done, *, workers: int = 1, client=None) -> None:
    """Judge every key (distinct normalised answers), calling ``done(key, judgement)`` for each.

    Parameters
    ----------
    task : GradeTask
    keys : sequence of tuple of str
    done : callable
        Called in this process as each answer finishes (any order).
    workers : int
        1 judges in this process; more starts that many isolated worker processes.
    client : ``dask.distributed.Client`` or str, optional
        Judge on this Dask cluster instead.

    Raises
    ------
    DerivauditError
        A Dask cluster that cannot be reached or whose workers cannot judge.
    """
    if not keys:
        return
    if client is not None:
        _on_dask(task, keys, client, done)
    elif workers <= 1:
        _in_process(task, keys, done)
    else:
        _pooled(task, keys, workers, done)
