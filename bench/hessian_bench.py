"""derivaudit Hessian-check benchmark: ``check_hessian`` at n = 100 against scipy's ``approx_fprime`` over the gradient.

Run from a clone (``pip install -e '.[test]'`` first; scipy is in the test extra)::

    python bench/hessian_bench.py            # 9 repetitions of each timing
    python bench/hessian_bench.py --quick    # 1 repetition

The workload is the L2-regularised logistic regression of
``examples/logistic_newton.toml``'s kind: ``N = 400`` samples, ``d = 100``
weights, the loss ``f``, its gradient ``g`` and its Hessian
``Xᵀ diag(p(1−p)) X / N + λI`` written in NumPy.

- **hessian_vs_scipy**: ``da.check_hessian(f, hess, w, grad=g)`` (float64)
  against the same check written by hand with scipy,
  ``approx_fprime(w, g)`` (forward differences of the gradient, ``n + 1``
  calls) compared with ``hess(w)`` in the relative-difference metric; the two
  alternate in one process after a warm-up; the median of each and their
  ratio (goal ≤ 2).  Both must call the correct Hessian fine, and
  derivaudit must name the planted wrong entries ``(3, 7)`` and ``(7, 3)``.
- **hessian_mp50_s**: the same check at ``precision="mp", dps=50`` on
  ``d = 8`` weights and ``N = 20`` samples, and the relative difference it
  reaches (goal < 1e-25).

The last line is ``hessian_vs_scipy=<x> hessian_mp50_s=<seconds> hessian_mp50_rel=<r>``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")   # one BLAS thread: the timing is of the checks, not of BLAS
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from scipy.optimize import approx_fprime  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import derivaudit as da  # noqa: E402
from derivaudit.verdicts import relative_difference  # noqa: E402

LAM = 0.1


def problem(N: int, d: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(N, d)), (rng.random(N) < 0.5).astype(float)

    def loss(w):
        z = X @ w
        return np.mean(np.logaddexp(0, z) - y * z) + LAM / 2 * np.sum(w * w)

    def grad(w):
        p = 1 / (1 + np.exp(-(X @ w)))
        return X.T @ (p - y) / N + LAM * w

    def hess(w):
        p = 1 / (1 + np.exp(-(X @ w)))
        return X.T @ (X * (p * (1 - p))[:, None]) / N + LAM * np.eye(d)

    return loss, grad, hess, rng.normal(size=d) * 0.3


def scipy_check(grad, hess, w):
    numeric = approx_fprime(w, grad)
    return relative_difference(hess(w), numeric)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    repeats = 1 if parser.parse_args().quick else 9
    loss, grad, hess, w = problem(400, 100)
    ours, theirs = [], []
    for k in range(repeats + 1):
        start = time.perf_counter()
        result = da.check_hessian(loss, hess, w, grad=grad)
        middle = time.perf_counter()
        rel = scipy_check(grad, hess, w)
        end = time.perf_counter()
        if k:
            ours.append(middle - start)
            theirs.append(end - middle)
    assert result.verdict == "fine" and rel < 1e-5, (result.summary(), rel)

    def planted(v):
        H = hess(v)
        H[3, 7] += 0.05
        H[7, 3] += 0.05
        return H
    wrong = da.check_hessian(loss, planted, w, grad=grad)
    assert set(wrong.wrong) == {(3, 7), (7, 3)}, wrong.wrong
    ratio = statistics.median(ours) / statistics.median(theirs)
    print(f"| check | median s |\n| --- | --- |\n| da.check_hessian (n=100, float64) | {statistics.median(ours):.4f} |\n"
          f"| approx_fprime over grad + compare | {statistics.median(theirs):.4f} |")
    small = problem(20, 8, seed=1)
    start = time.perf_counter()
    mp = da.check_hessian(small[0], small[2], small[3], grad=small[1], precision="mp", dps=50)
    mp_s = time.perf_counter() - start
    assert mp.verdict == "fine" and mp.relative_difference < 1e-25, mp.summary()
    print(f"hessian_vs_scipy={ratio:.2f} hessian_mp50_s={mp_s:.2f} hessian_mp50_rel={mp.relative_difference:.1e}")


if __name__ == "__main__":
    main()
