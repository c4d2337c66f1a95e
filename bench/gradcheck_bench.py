"""derivaudit gradient-check benchmark: a 10,000-parameter MLP against scipy, a naive conv layer at 50 digits.

Run from a clone (``pip install -e '.[test]'`` first; scipy is in the test extra)::

    python bench/gradcheck_bench.py            # 3 repetitions of each timing
    python bench/gradcheck_bench.py --quick    # 1 repetition

- **gradcheck_vs_scipy**: ``da.check_gradient(loss, grad, θ)`` with its
  defaults against ``scipy.optimize.check_grad(loss, grad, θ)`` on the loss
  of a 100 → 90 → 10 tanh/softmax network (10,000 parameters, batch 32), the
  two alternating in one process after a warm-up; the median of each, and
  their ratio.  Also the same check with two planted wrong entries (it must
  name both) and ``mode="directions"`` call counts.
- **conv_mp50_s**: ``da.check_layer`` of a naive convolution with loops
  (input 2×2×4×4, 3 filters 3×3, stride 1, pad 1) at ``precision="mp",
  dps=50``, and the relative difference it reaches.

The last line is ``gradcheck_vs_scipy=<x> conv_mp50_s=<seconds> directions_calls=<n>``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import derivaudit as da  # noqa: E402

D, H, C, N = 100, 90, 10, 32
RNG = np.random.default_rng(0)
X = RNG.normal(size=(N, D))
Y = RNG.integers(0, C, N)
SHAPES = [(D, H), (H,), (H, C), (C,)]
SIZES = [int(np.prod(s)) for s in SHAPES]
THETA = RNG.normal(size=sum(SIZES)) * 0.1


def unpack(theta):
    parts, k = [], 0
    for shape, size in zip(SHAPES, SIZES):
        parts.append(theta[k:k + size].reshape(shape))
        k += size
    return parts


def loss(theta):
    W1, b1, W2, b2 = unpack(theta)
    h = np.tanh(X @ W1 + b1)
    s = h @ W2 + b2
    s = s - s.max(axis=1, keepdims=True)
    log_probs = s - np.log(np.sum(np.exp(s), axis=1, keepdims=True))
    return -np.sum(log_probs[np.arange(N), Y]) / N


def grad(theta):
    W1, b1, W2, b2 = unpack(theta)
    h = np.tanh(X @ W1 + b1)
    s = h @ W2 + b2
    p = np.exp(s - s.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(N), Y] -= 1
    p /= N
    dz = (p @ W2.T) * (1 - h ** 2)
    return np.concatenate([(X.T @ dz).ravel(), dz.sum(0), (h.T @ p).ravel(), p.sum(0)])


def planted(theta):
    g = grad(theta)
    g[5000] *= -1
    g[9995] *= 3
    return g


def conv_forward_naive(x, w, b, conv_param):
    stride, pad = conv_param["stride"], conv_param["pad"]
    N_, C_, H_, W_ = x.shape
    F, _, HH, WW = w.shape
    Hout, Wout = 1 + (H_ + 2 * pad - HH) // stride, 1 + (W_ + 2 * pad - WW) // stride
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")
    out = np.zeros((N_, F, Hout, Wout))
    for n in range(N_):
        for f in range(F):
            for i in range(Hout):
                for j in range(Wout):
                    window = x_pad[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    return out, (x, w, b, conv_param)


def conv_backward_naive(dout, cache):
    x, w, b, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    H_, W_ = x.shape[2:]
    F, _, HH, WW = w.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")
    dx_pad, dw, db = np.zeros_like(x_pad), np.zeros_like(w), np.zeros_like(b)
    for n in range(x.shape[0]):
        for f in range(F):
            db[f] += np.sum(dout[n, f])
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    window = x_pad[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
                    dw[f] += window * dout[n, f, i, j]
                    dx_pad[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW] += w[f] * dout[n, f, i, j]
    return dx_pad[:, :, pad:pad + H_, pad:pad + W_], dw, db


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def scipy_comparison(repeat: int) -> float:
    from scipy.optimize import check_grad
    check_grad(loss, grad, THETA)
    da.check_gradient(loss, grad, THETA)                      # warm-up: imports, caches
    ours, theirs = [], []
    for _ in range(repeat):
        t, scipy_norm = timed(lambda: check_grad(loss, grad, THETA))
        theirs.append(t)
        t, result = timed(lambda: da.check_gradient(loss, grad, THETA))
        ours.append(t)
    ratio = statistics.median(ours) / statistics.median(theirs)
    print(f"MLP loss, {THETA.size} parameters: scipy.optimize.check_grad {statistics.median(theirs):.3f} s "
          f"(‖g − n‖ = {scipy_norm:.2e}), derivaudit check_gradient {statistics.median(ours):.3f} s "
          f"(relative difference {result.relative_difference:.2e}, {result.verdict}; {result.notes[-1]})")
    t, bad = timed(lambda: da.check_gradient(loss, planted, THETA))
    print(f"  with two planted wrong entries: {t:.3f} s, wrong {list(bad.wrong)}, cause: {bad.cause[:60]}…")
    return ratio


def directions_counts() -> int:
    calls = 0
    for k in (4, 8):
        for label, g in (("correct", grad), ("two wrong entries", planted)):
            t, result = timed(lambda: da.check_gradient(loss, g, THETA, mode="directions", directions=k))
            count = int(result.notes[0].split(": ")[1].split()[0])
            print(f"  mode='directions', k={k}, {label}: {count} calls of f, {t:.3f} s, wrong {list(result.wrong)}")
            if k == 8 and g is planted:
                calls = count
    return calls


def conv_at_50_digits(repeat: int) -> float:
    rng = np.random.default_rng(1)
    inputs = (rng.normal(size=(2, 2, 4, 4)), rng.normal(size=(3, 2, 3, 3)), rng.normal(size=3),
              {"stride": 1, "pad": 1})
    times = []
    for _ in range(repeat):
        t, result = timed(lambda: da.check_layer(conv_forward_naive, conv_backward_naive, *inputs,
                                                 precision="mp", dps=50))
        times.append(t)
    worst = max(g.relative_difference for g in result.gradients)
    print(f"naive conv layer (2×2×4×4 input, 3 filters 3×3) at 50 digits: {statistics.median(times):.2f} s, "
          f"ok={result.ok}, largest relative difference {worst:.1e} ({result.notes[0]})")
    t64, result64 = timed(lambda: da.check_layer(conv_forward_naive, conv_backward_naive, *inputs))
    print(f"  the same in float64: {t64:.2f} s, largest relative difference "
          f"{max(g.relative_difference for g in result64.gradients):.1e}")
    return statistics.median(times)


def measure(repeat: int = 3) -> dict[str, float]:
    """Every figure of this bench (printing the details): what ``bench/run.py`` puts on its last line."""
    return {"gradcheck_vs_scipy": scipy_comparison(repeat), "directions_calls": directions_counts(),
            "conv_mp50_s": conv_at_50_digits(repeat)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one repetition of each timing")
    args = parser.parse_args(argv)
    figures = measure(1 if args.quick else 3)
    print(f"gradcheck_vs_scipy={figures['gradcheck_vs_scipy']:.2f} conv_mp50_s={figures['conv_mp50_s']:.2f} "
          f"directions_calls={figures['directions_calls']}")


if __name__ == "__main__":
    main()
