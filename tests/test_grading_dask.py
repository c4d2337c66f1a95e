"""derivaudit grade on a Dask LocalCluster: the same verdicts as one process."""

from __future__ import annotations

from pathlib import Path

import pytest

from derivaudit.errors import DerivauditError
from derivaudit.grading import grade
from derivaudit.grading.answers import Submission
from derivaudit.grading.task import task_from_dict

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "grading"
CUBE = task_from_dict({"task": {"formula": "x**3*exp(x)", "wrt": "x"},
                       "columns": {"id": "student", "claim": "answer"}})
CLAIMS = ["3*x**2*exp(x) + x**3*exp(x)", "3*x**2*exp(x)", "x**2*exp(x)*(x + 3)", "x**3*exp(x)", "2x",
          "3*x**2*exp(x) + x**3*exp(x)"]


def test_local_cluster_grades_like_one_process():
    """Two worker processes (non-daemonic, one thread each): every verdict equals the in-process one."""
    subs = [Submission(i + 2, f"s{i}", (c,)) for i, c in enumerate(CLAIMS)]
    alone = [a.judgement for a in grade(CUBE, subs, workers=1).answers]
    with dask.config.set({"distributed.worker.daemon": False}):
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=None) as cluster, distributed.Client(cluster) as client:
            result = grade(CUBE, subs, client=client)
            example = grade(EXAMPLE / "task.toml", EXAMPLE / "answers.csv", client=cluster.scheduler_address)
    assert [a.verdict for a in result.answers] == [j.verdict for j in alone]
    assert [a.verdict for a in result.answers] == ["correct (proved)", "wrong", "correct (proved)", "wrong",
                                                   "invalid", "correct (proved)"]
    assert [a.judgement.likely_mistake for a in result.answers] == [j.likely_mistake for j in alone]
    assert example.counts == {"correct (proved)": 8, "wrong": 10, "invalid": 3}
    assert result.workers == "dask" and example.workers.startswith("tcp://")


def test_daemonic_dask_workers_refuse_instead_of_proving_less():
    """Dask's default worker processes are daemonic (no proof processes): the batch stops with how to fix it."""
    subs = [Submission(2, "s", ("3*x**2*exp(x) + x**3*exp(x)",))]
    with dask.config.set({"distributed.worker.daemon": True}):
        with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                      dashboard_address=None) as cluster, distributed.Client(cluster) as client:
            with pytest.raises(DerivauditError, match="DASK_DISTRIBUTED__WORKER__DAEMON=False"):
                grade(CUBE, subs, client=client)


def test_unreachable_scheduler_is_one_line():
    with pytest.raises(DerivauditError, match="cannot reach the Dask scheduler"):
        grade(CUBE, [Submission(2, "s", ("x",))], client="tcp://127.0.0.1:9")
