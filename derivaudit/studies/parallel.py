"""Many convergence studies at once: across local processes, or on a Dask cluster.

Studies of different formulas, points or precisions share nothing, so a
list of them runs in parallel with no coordination: each :class:`StudyTask`
is a picklable bundle of :func:`~derivaudit.study.study` arguments, and
:func:`study_many` maps :meth:`StudyTask.run` over the list with

- a :class:`concurrent.futures.ProcessPoolExecutor` (the default; one
  worker per core), or
- a Dask cluster, when given a ``dask.distributed.Client`` or a scheduler
  address such as ``"tcp://host:8786"`` (the optional ``derivaudit[dask]``
  extra; every worker needs derivaudit installed).  mpmath keeps its
  precision in process-wide state, so a worker process runs one study at a
  time: start workers with one thread each and as many processes as cores
  (``dask worker tcp://host:8786 --nworkers auto --nthreads 1``).

Every study is deterministic — exact inputs, precision chosen from the
numbers alone — so the tables equal those of a serial run value for value,
whatever the number of workers or where they run.

Sweep files (``derivaudit sweep FILE.toml``) list studies in TOML::

    [defaults]                      # optional; any study key
    eps = "1e-1:1e-12:12"
    schemes = ["forward", "centered", "centered4"]

    [[study]]
    formula = "theta**3"
    at = { theta = 1 }

    [[study]]                       # several points: one study per point
    formula = "sigmoid(w*x + b)"
    wrt = "w"
    at = [{ w = 0.5, x = 2, b = -0.25 }, { w = -1, x = 2, b = 0 }]

    [[study]]                       # a scheme of your own (see stencil_verdicts)
    formula = "exp(x)"
    at = { x = 0 }
    stencil = { offsets = [0, 1, 2], weights = ["-3/2", 2, "-1/2"] }
    claimed_order = 2
"""

from __future__ import annotations

import os
import threading
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, fields
from pathlib import Path

import pandas as pd

from derivaudit.errors import DerivauditError, SpecError
from derivaudit.limits import DEFAULT_LIMITS, Limits
from derivaudit.progress import Progress, ProgressArg
from derivaudit.studies.inputs import DEFAULT_STEPS
from derivaudit.studies.result import StudyResult, combine, labelled
from derivaudit.studies.stencil_verdicts import SWEEP_KEYS, sweep_stencils
from derivaudit.studies.sweep import study

__all__ = ["StudyTask", "study_many", "default_workers", "load_sweep", "combine", "sweep_summary"]


@dataclass(frozen=True)
class StudyTask:
    """The arguments of one :func:`~derivaudit.study.study` call.

    ``options`` passes further keyword arguments of ``study`` unchanged.
    """

    formula: object
    wrt: str | None = None
    at: Mapping[str, object] | None = None
    eps: object = DEFAULT_STEPS
    schemes: Sequence = ("forward", "centered")  # names, or Stencil objects (custom_stencil)
    order: int = 1
    dps: int = 50
    precision: str = "mp"
    limits: Limits = DEFAULT_LIMITS
    options: Mapping[str, object] = field(default_factory=dict)

    def run(self) -> StudyResult:
        """The study's table (see :func:`~derivaudit.study.study`)."""
        return study(self.formula, wrt=self.wrt, at=self.at, eps=self.eps, schemes=self.schemes,
                     order=self.order, dps=self.dps, precision=self.precision, limits=self.limits,
                     **self.options)

    def label(self) -> str:
        """``formula at x=1, y=2`` — how errors and summaries name the task."""
        point = ", ".join(f"{k}={v}" for k, v in (self.at or {}).items())
        return f"{self.formula}" + (f" at {point}" if point else "")


def default_workers() -> int:
    """The cores this process may run on (all of them unless restricted)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def _run(index: int, task: StudyTask) -> StudyResult:
    """Run one task; a failure names the study it came from (1-based)."""
    try:
        return task.run()
    except DerivauditError as exc:
        if exc.args and isinstance(exc.args[0], str):
            exc.args = (f"study {index + 1} ({task.label()}): {exc.args[0]}", *exc.args[1:])
        raise


#: mpmath's working precision is process-wide state, so studies must not
#: overlap in threads of one process (Dask workers run tasks in threads)
_ONE_AT_A_TIME = threading.Lock()


def _run_alone(index: int, task: StudyTask) -> StudyResult:
    with _ONE_AT_A_TIME:
        return _run(index, task)


def study_many(tasks: Iterable[StudyTask], workers: int | None = None, client=None,
               progress: ProgressArg = None) -> list[StudyResult]:
    """Run many studies in parallel; their :class:`~derivaudit.studies.result.StudyResult` in the order of ``tasks``.

    ``SweepResult(tuple(results))`` gives them the result protocol as one (verdict, reports).

    Parameters
    ----------
    tasks : iterable of StudyTask
    workers : int, optional
        Local worker processes (default: every core, :func:`default_workers`).
        ``1`` runs in this process, as does a single task.
    client : ``dask.distributed.Client`` or str, optional
        Run on this Dask cluster instead; a string is a scheduler address
        (``"tcp://host:8786"``), connected to for this call only.
    progress : bool or callable, optional
        ``True`` draws a bar; a callable gets ``(done, total)`` per finished study.

    The first failing study's error is raised (its message starts with
    ``study N (formula at point):``); the others are cancelled.
    """
    tasks = list(tasks)
    for i, task in enumerate(tasks):
        if not isinstance(task, StudyTask):
            raise DerivauditError(f"task {i + 1} is a {type(task).__name__}, not a StudyTask")
    if client is not None:
        return _on_dask(tasks, client, progress)
    if workers is None:
        workers = default_workers()
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise DerivauditError(f"workers must be a whole number ≥ 1, not {workers!r}")
    advance = Progress(progress, len(tasks), "studies")
    try:
        if workers == 1 or len(tasks) <= 1:
            results = []
            for i, task in enumerate(tasks):
                results.append(_run(i, task))
                advance()
            return results
        results = [None] * len(tasks)
        with ProcessPoolExecutor(max_workers=min(workers, len(tasks))) as pool:
            futures = {pool.submit(_run, i, task): i for i, task in enumerate(tasks)}
            try:
                for future in as_completed(futures):
                    results[futures[future]] = future.result()
                    advance()
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
        return results
    finally:
        advance.close()


def _on_dask(tasks: list[StudyTask], client, progress: ProgressArg) -> list[StudyResult]:
    try:
        from dask.distributed import Client, as_completed as dask_completed
    except ImportError:
        raise DerivauditError("running on a Dask cluster needs dask: "
                              "pip install 'derivaudit[dask]'") from None
    own = isinstance(client, str)
    if own:
        try:
            client = Client(client, timeout="10s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise DerivauditError(f"cannot reach the Dask scheduler at {client!r} ({exc}); "
                                  "give its address as tcp://HOST:8786") from None
    elif not isinstance(client, Client):
        raise DerivauditError(f"client must be a dask.distributed.Client or a scheduler address, "
                              f"not {type(client).__name__}")
    advance = Progress(progress, len(tasks), "studies")
    try:
        futures = client.map(_run_alone, range(len(tasks)), tasks, pure=False)
        for _ in dask_completed(futures):
            advance()
        return client.gather(futures)
    finally:
        advance.close()
        if own:
            client.close()


# -- sweep files -------------------------------------------------------------------------------

_KEYS = {f.name for f in fields(StudyTask)} - {"limits", "options"} | set(SWEEP_KEYS)


def _task(entry: Mapping, where: str) -> list[StudyTask]:
    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        raise SpecError(f"{where}: unknown key {unknown[0]!r}; the keys are {', '.join(sorted(_KEYS))}")
    if "formula" not in entry:
        raise SpecError(f"{where}: no formula; add formula = \"...\"")
    values = dict(entry)
    if isinstance(values.get("schemes"), str):
        values["schemes"] = [s.strip() for s in values["schemes"].split(",") if s.strip()]
    if isinstance(values.get("schemes"), list):
        values["schemes"] = tuple(values["schemes"])
    values = sweep_stencils(values, where)
    points = values.pop("at", None)
    if points is None or isinstance(points, Mapping):
        points = [points]
    elif not (isinstance(points, list) and points and all(isinstance(p, Mapping) for p in points)):
        raise SpecError(f"{where}: 'at' must be a table {{x = 1}} or a list of them")
    return [StudyTask(at=point, **values) for point in points]


def load_sweep(path: str | os.PathLike) -> list[StudyTask]:
    """The studies listed in a sweep file (TOML; see the module docstring)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SpecError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise SpecError(f"{path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path} is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - {"defaults", "study"})
    if unknown:
        raise SpecError(f"{path}: unknown table {unknown[0]!r}; use [defaults] and [[study]]")
    defaults = data.get("defaults", {})
    entries = data.get("study", [])
    if not isinstance(defaults, Mapping) or not isinstance(entries, list):
        raise SpecError(f"{path}: [defaults] must be a table and [[study]] an array of tables")
    if not entries:
        raise SpecError(f"{path}: no studies; add a [[study]] table with a formula")
    tasks = []
    for i, entry in enumerate(entries):
        tasks += _task({**defaults, **entry}, f"{path}, study {i + 1}")
    return tasks


def sweep_summary(studies: Sequence) -> pd.DataFrame:
    """Fitted orders of every study: ``study, formula, wrt, point`` then
    :func:`~derivaudit.study.fitted_orders`' columns, one row per study × scheme."""
    from derivaudit.studies.orders import fitted_orders

    frames = [labelled(fitted_orders(result), result, i) for i, result in enumerate(studies)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
