"""derivaudit grade benchmark: a class against single checks, a large batch against one warm process.

Run from a clone (``pip install -e '.[test]'``: the Dask rows need dask[distributed])::

    python bench/grading_bench.py                        # the issue's sizes (tens of minutes on 2 cores)
    python bench/grading_bench.py --distinct 200         # 10 000 submissions with 200 distinct answers

Rows, side by side in one run (each timed in a fresh Python process, so no
cache of one row helps another; wall seconds, median of ``--repeat`` runs):

- **check process**: one ``derivaudit check`` command (start-up included) on a
  wrong answer of the class;
- **class**: ``derivaudit grade`` of 1 000 submissions drawn from the 36
  distinct answers of a realistic class (``--workers`` default: every core).
  Goal: at most 15 × one check process;
- **warm**: the big batch's distinct answers checked one after another by
  ``derivaudit.check`` in one warm process (the formula parsed once) — the
  best one core can do;
- **grade N workers**: ``derivaudit.grading.grade`` of the big batch
  (``--submissions`` rows, ``--distinct`` answers: reading, normalising,
  judging, the GradeResult) with N local worker processes.  Goal: cores ×
  time within 1.5 × warm (throughput per core);
- **Dask N workers**: the same batch on a ``LocalCluster`` of N worker
  processes, one thread each.  Goal: near-linear speed-up from 1 to 2.

Each part also reports CPU seconds (the process and its worker processes): on a
shared machine, where N workers may not get N cores, CPU time is the fair
measure of work per core.  The last line is ``class_vs_check=<x>
per_core_vs_warm_wall=<y> per_core_vs_warm_cpu=<y'> dask_speedup_1_to_2=<z>``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FORMULA = "log(1 + exp(w*x + b))"
TASK = f'[task]\nformula = "{FORMULA}"\nwrt = "w"\n[columns]\nid = "student"\nclaim = "answer"\n'

#: a realistic class: 12 right forms, 16 classic mistakes, 8 invalid texts (36 distinct answers)
CLASS = [
    "x*sigmoid(w*x + b)", "x*sigmoid(w*x+b)", "x * sigmoid(w*x + b)", "x/(1 + exp(-(w*x + b)))",
    "x*exp(w*x + b)/(1 + exp(w*x + b))", "x*exp(w*x + b)/(exp(w*x + b) + 1)", "x/(1 + exp(-w*x - b))",
    "x*(1 - 1/(1 + exp(w*x + b)))", "x - x/(1 + exp(w*x + b))", "x*sigmoid(b + w*x)", "sigmoid(w*x + b)*x",
    "x*exp(b + w*x)/(1 + exp(b + w*x))",
    "sigmoid(w*x + b)", "-x*sigmoid(w*x + b)", "2*x*sigmoid(w*x + b)", "w*sigmoid(w*x + b)",
    "exp(w*x + b)/(1 + exp(w*x + b))", "1/(1 + exp(w*x + b))", "x/(1 + exp(w*x + b))",
    "x*sigmoid(w*x + b)*(1 - sigmoid(w*x + b))", "x*exp(w*x + b)", "log(x)*sigmoid(w*x + b)",
    "x*sigmoid(w*x)", "x*sigmoid(w*x + b) + b", "x*log(1 + exp(w*x + b))", "1/(1 + exp(-(w*x + b)))",
    "x*sigmoid(w + b)", "x**2*sigmoid(w*x + b)",
    "2x*sigmoid(w*x + b)", "", "x*sigma(w*x + b)", "x*sigmoid(w*x + b", "__import__('os')",
    "x*sigmoid(w*x + b) + y", "x*sigmoid(w*x+b)))", "x**(10**100)",
]


def distinct_answers(count: int) -> list[str]:
    """``count`` distinct answers: a quarter each of right forms needing a proof and three kinds of wrong."""
    out = []
    for i in range(count):
        k = i // 4 + 2
        out.append([f"{k}*x*sigmoid(w*x + b)",
                    f"x*sigmoid(w*x + b)*(1 + {k}*(sin(x)**2 + cos(x)**2 - 1))",
                    f"x*sigmoid(w*x + b) + {k}/1000000",
                    f"x*sigmoid({k}*w*x + b)"][i % 4])
    return out


def write_batch(folder: Path, answers: list[str], submissions: int, seed: int = 0) -> tuple[Path, Path]:
    rng = random.Random(seed)
    picks = answers + [rng.choice(answers) for _ in range(submissions - len(answers))]
    rng.shuffle(picks)
    task, csv_path = folder / "task.toml", folder / f"answers_{submissions}_{len(answers)}.csv"
    task.write_text(TASK)
    with open(csv_path, "w", encoding="utf-8", newline="") as handle:
        import csv

        writer = csv.writer(handle)
        writer.writerow(["student", "answer"])
        writer.writerows([f"s{i}", a] for i, a in enumerate(picks))
    return task, csv_path


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    run = subprocess.run(command, capture_output=True, text=True)
    if run.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed: {run.stderr.strip()}")
    return time.perf_counter() - start


def median_of(command: list[str], repeat: int) -> float:
    return statistics.median(timed(command) for _ in range(repeat))


# -- the parts, each run in a fresh process -------------------------------------------------------

def cpu_seconds() -> float:
    """CPU seconds of this process and its finished children (worker processes included once reaped)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class Clock:
    """Wall and CPU seconds of a block."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), cpu_seconds()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.wall, cpu_seconds() - self.cpu


def part_warm(csv_path: str) -> float:
    import csv

    import derivaudit as da
    from derivaudit.lang.parse import parse_formula

    with open(csv_path, encoding="utf-8") as handle:
        answers = list(dict.fromkeys(row["answer"] for row in csv.DictReader(handle)))
    f = parse_formula(FORMULA)
    da.check(f, wrt="w", claim="x")  # warm: imports, compiled programs of the formula
    with Clock() as clock:
        for answer in answers:
            da.check(f, wrt="w", claim=answer)
    return clock


def part_grade(task: str, csv_path: str, workers: int) -> Clock:
    from derivaudit.grading import grade

    with Clock() as clock:
        grade(task, csv_path, workers=workers)
    return clock


def part_dask(task: str, csv_path: str, workers: int) -> Clock:
    import dask
    import distributed

    from derivaudit.grading import grade

    with dask.config.set({"distributed.worker.daemon": False}):
        with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                      dashboard_address=None) as cluster, distributed.Client(cluster) as client:
            client.run(lambda: __import__("derivaudit.checks.check"))  # workers start warm, as a cluster would
            before = sum(client.run(cpu_seconds).values())
            with Clock() as clock:
                grade(task, csv_path, client=client)
            after = sum(client.run(cpu_seconds).values())
    clock.cpu += after - before  # this process's, and the workers' (with the proof processes they reaped)
    return clock


def run_part(*args) -> tuple[float, float]:
    """``(wall, cpu)`` seconds of a part, run in a fresh process."""
    run = subprocess.run([sys.executable, __file__, "--part", *map(str, args)], capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"part {args[0]} failed: {run.stderr.strip()[-2000:]}")
    wall, cpu = run.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=10_000)
    parser.add_argument("--distinct", type=int, default=2_000)
    parser.add_argument("--class-size", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of the short rows (median)")
    parser.add_argument("--part", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.part:
        name, *rest = args.part
        clock = {"warm": lambda: part_warm(rest[0]), "grade": lambda: part_grade(rest[0], rest[1], int(rest[2])),
                 "dask": lambda: part_dask(rest[0], rest[1], int(rest[2]))}[name]()
        print(clock.wall, clock.cpu)
        return
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    rows = {}
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        task, class_csv = write_batch(folder, CLASS, args.class_size)
        rows["check process"] = (median_of(["derivaudit", "check", FORMULA, "--wrt", "w", "--claim",
                                            "sigmoid(w*x + b)", "-q"], args.repeat), float("nan"))
        rows[f"class: {args.class_size} submissions, {len(CLASS)} distinct"] = (median_of(
            ["derivaudit", "grade", str(task), str(class_csv), "-q"], args.repeat), float("nan"))
        _, big = write_batch(folder, distinct_answers(args.distinct), args.submissions)
        label = f"{args.submissions} submissions, {args.distinct} distinct"
        rows[f"warm: {args.distinct} checks, one process"] = run_part("warm", big)
        for workers in sorted({1, cores}):
            rows[f"grade {label}, {workers} worker(s)"] = run_part("grade", task, big, workers)
        for workers in (1, 2):
            rows[f"Dask {label}, {workers} worker(s)"] = run_part("dask", task, big, workers)
    width = max(map(len, rows))
    print(f"| {'row':<{width}} | wall s | CPU s |\n|{'-' * (width + 2)}|-------:|------:|")
    for name, (wall, cpu) in rows.items():
        print(f"| {name:<{width}} | {wall:6.1f} | {cpu:5.1f} |".replace("  nan", "    –"))
    values = [wall for wall, _ in rows.values()]
    class_ratio = values[1] / values[0]
    warm = rows[f"warm: {args.distinct} checks, one process"]
    pooled = rows[f"grade {label}, {cores} worker(s)"]
    per_core_wall = pooled[0] * cores / warm[0]
    per_core_cpu = pooled[1] / warm[1]
    speedup = rows[f"Dask {label}, 1 worker(s)"][0] / rows[f"Dask {label}, 2 worker(s)"][0]
    print("\ngoals: class ≤ 15 × check process; time per core ≤ 1.5 × warm; Dask 1→2 workers near 2×")
    print("(CPU s: the process and its worker processes; on a shared machine the fair measure of work per core)")
    print(f"class_vs_check={class_ratio:.2f} per_core_vs_warm_wall={per_core_wall:.2f} "
          f"per_core_vs_warm_cpu={per_core_cpu:.2f} dask_speedup_1_to_2={speedup:.2f}")


if __name__ == "__main__":
    main()
