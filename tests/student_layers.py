"""Layers written the way students write them (the CS231n convention), each with a realistic planted bug.

``forward(*inputs)`` returns ``(out, cache)``; ``backward(dout, cache)``
returns the gradients of the floating-point inputs in order.  ``BUGS`` names
the bug switched on by ``bug=True`` and the gradient it lives in.
Plain NumPy: the tests run them in float64 and lifted to 50 digits.
"""

import numpy as np


def affine_forward(x, w, b):
    out = x.reshape(x.shape[0], -1).dot(w) + b
    return out, (x, w, b)


def affine_backward(dout, cache, bug=False):
    x, w, b = cache
    dx = dout.dot(w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T.dot(dout)
    db = np.sum(dout, axis=0) if not bug else np.mean(dout, axis=0)      # bug: mean instead of sum
    return dx, dw, db


def relu_forward(x):
    return np.maximum(0, x), x


def relu_backward(dout, cache, bug=False):
    x = cache
    dx = dout.copy()
    if bug:
        dx[x < 0] = 0
        dx[x >= 0] *= 1
        dx[x > 0.5] = 1                                                  # bug: 1 instead of dout
    else:
        dx[x <= 0] = 0
    return dx


def batchnorm_forward(x, gamma, beta, bn_param):
    eps = bn_param.get("eps", 1e-5)
    mu = np.mean(x, axis=0)
    var = np.var(x, axis=0)
    xhat = (x - mu) / np.sqrt(var + eps)
    return gamma * xhat + beta, (x, xhat, gamma, mu, var, eps)


def batchnorm_backward(dout, cache, bug=False):
    x, xhat, gamma, mu, var, eps = cache
    N = x.shape[0]
    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * xhat, axis=0)
    dxhat = dout * gamma
    inv = 1.0 / np.sqrt(var + eps)
    if bug:                                                              # bug: forgets the mean's dependence
        dx = dxhat * inv - np.sum(dxhat, axis=0) * inv / N
    else:
        dx = (N * dxhat - np.sum(dxhat, axis=0) - xhat * np.sum(dxhat * xhat, axis=0)) * inv / N
    return dx, dgamma, dbeta


def conv_forward_naive(x, w, b, conv_param):
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    Hout = 1 + (H + 2 * pad - HH) // stride
    Wout = 1 + (W + 2 * pad - WW) // stride
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")
    out = np.zeros((N, F, Hout, Wout))
    for n in range(N):
        for f in range(F):
            for i in range(Hout):
                for j in range(Wout):
                    window = x_pad[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    return out, (x, w, b, conv_param)


def conv_backward_naive(dout, cache, bug=False):
    x, w, b, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    _, _, Hout, Wout = dout.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros_like(w)
    db = np.zeros_like(b)
    for n in range(N):
        for f in range(F):
            db[f] += np.sum(dout[n, f])
            for i in range(Hout):
                for j in range(Wout):
                    window = x_pad[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
                    # bug: the filter flipped (convolution instead of cross-correlation) in dx
                    wf = w[f, :, ::-1, ::-1] if bug else w[f]
                    dw[f] += window * dout[n, f, i, j]
                    dx_pad[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW] += wf * dout[n, f, i, j]
    dx = dx_pad[:, :, pad:pad + H, pad:pad + W]
    return dx, dw, db


def max_pool_forward_naive(x, pool_param):
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    Hout, Wout = 1 + (H - ph) // s, 1 + (W - pw) // s
    out = np.zeros((N, C, Hout, Wout))
    for n in range(N):
        for c in range(C):
            for i in range(Hout):
                for j in range(Wout):
                    out[n, c, i, j] = np.max(x[n, c, i * s:i * s + ph, j * s:j * s + pw])
    return out, (x, pool_param)


def max_pool_backward_naive(dout, cache, bug=False):
    x, pool_param = cache
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, Hout, Wout = dout.shape
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(Hout):
                for j in range(Wout):
                    window = x[n, c, i * s:i * s + ph, j * s:j * s + pw]
                    a, b = np.unravel_index(np.argmax(window), window.shape)
                    if bug:                                              # bug: always the window's first entry
                        a, b = 0, 0
                    dx[n, c, i * s + a, j * s + b] += dout[n, c, i, j]
    return dx


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(x.dot(Wx) + prev_h.dot(Wh) + b)
    return next_h, (x, prev_h, Wx, Wh, next_h)


def rnn_step_backward(dnext_h, cache, bug=False):
    x, prev_h, Wx, Wh, next_h = cache
    dz = dnext_h * (1 - next_h ** 2)
    dx = dz.dot(Wx.T)
    dprev_h = dz.dot(Wh) if bug else dz.dot(Wh.T)                        # bug: Wh not transposed
    dWx = x.T.dot(dz)
    dWh = prev_h.T.dot(dz)
    db = np.sum(dz, axis=0)
    return dx, dprev_h, dWx, dWh, db


def word_embedding_forward(x, W):
    return W[x], (x, W)


def word_embedding_backward(dout, cache, bug=False):
    x, W = cache
    dW = np.zeros_like(W)
    if bug:
        dW[x] += dout                                   # bug: repeated words counted once (no np.add.at)
    else:
        np.add.at(dW, x, dout)
    return dW


def softmax_loss(x, y, bug=False):
    shifted = x - np.max(x, axis=1, keepdims=True)
    Z = np.sum(np.exp(shifted), axis=1, keepdims=True)
    log_probs = shifted - np.log(Z)
    probs = np.exp(log_probs)
    N = x.shape[0]
    loss = -np.sum(log_probs[np.arange(N), y]) / N
    dx = probs.copy()
    dx[np.arange(N), y] -= 1
    dx /= N if not bug else N * N                                         # bug: divided by N twice
    return loss, dx


def svm_loss(x, y, bug=False):
    N = x.shape[0]
    correct = x[np.arange(N), y]
    margins = np.maximum(0, x - correct[:, np.newaxis] + 1.0)
    margins[np.arange(N), y] = 0
    loss = np.sum(margins) / N
    num_pos = np.sum(margins > 0, axis=1)
    dx = np.zeros_like(x)
    dx[margins > 0] = 1
    if not bug:                                                           # bug: the correct class's term missing
        dx[np.arange(N), y] -= num_pos
    dx /= N
    return loss, dx


def init_network(seed=0, sizes=(4, 5, 3, 2), m=6):
    """A three-layer network in the dict convention: parameters W1, b1, ..., data X, Y."""
    rng = np.random.default_rng(seed)
    params = {}
    for k in range(1, len(sizes)):
        params[f"W{k}"] = rng.normal(size=(sizes[k], sizes[k - 1])) * 0.7
        params[f"b{k}"] = rng.normal(size=(sizes[k], 1)) * 0.3
    X = rng.normal(size=(sizes[0], m))
    Y = (rng.random(size=(1, m)) > 0.5).astype(float)
    return params, X, Y


def network_cost(params, X, Y):
    """Three layers, tanh, tanh, sigmoid, cross-entropy (the course's forward_propagation_n)."""
    m = X.shape[1]
    A1 = np.tanh(params["W1"].dot(X) + params["b1"])
    A2 = np.tanh(params["W2"].dot(A1) + params["b2"])
    A3 = 1 / (1 + np.exp(-(params["W3"].dot(A2) + params["b3"])))
    return -np.sum(Y * np.log(A3) + (1 - Y) * np.log(1 - A3)) / m


def network_gradients(params, X, Y, bug=None):
    """``dW1, db1, ...``; ``bug="dW2"`` doubles dW2, ``bug="db1"`` puts 4/m in db1."""
    m = X.shape[1]
    A1 = np.tanh(params["W1"].dot(X) + params["b1"])
    A2 = np.tanh(params["W2"].dot(A1) + params["b2"])
    A3 = 1 / (1 + np.exp(-(params["W3"].dot(A2) + params["b3"])))
    dZ3 = A3 - Y
    grads = {"dW3": dZ3.dot(A2.T) / m, "db3": np.sum(dZ3, axis=1, keepdims=True) / m}
    dZ2 = params["W3"].T.dot(dZ3) * (1 - A2 ** 2)
    grads["dW2"] = dZ2.dot(A1.T) / m * (2 if bug == "dW2" else 1)
    grads["db2"] = np.sum(dZ2, axis=1, keepdims=True) / m
    dZ1 = params["W2"].T.dot(dZ2) * (1 - A1 ** 2)
    grads["dW1"] = dZ1.dot(X.T) / m
    grads["db1"] = (4 if bug == "db1" else 1) / m * np.sum(dZ1, axis=1, keepdims=True)
    return grads
