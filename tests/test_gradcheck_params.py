"""Parameters in a dict (the course convention), tuples, Jacobians, large θ, framework arrays, diagnoses."""

import numpy as np
import pytest

import derivaudit as da
import student_layers as L

PARAMS, X, Y = L.init_network()


def cost(params):
    return L.network_cost(params, X, Y)


@pytest.mark.parametrize("precision", ["float64", "mp"])
def test_three_layer_network_in_the_dict_convention(precision):
    ok = da.check_gradient(cost, lambda p: L.network_gradients(p, X, Y), PARAMS, precision=precision)
    assert ok.ok and ok.precision == precision and list(ok.parts) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    assert ok.relative_difference < (1e-25 if precision == "mp" else 1e-9)
    assert all(part.relative_difference < (1e-25 if precision == "mp" else 1e-9) for part in ok.parts.values())

    doubled = da.check_gradient(cost, lambda p: L.network_gradients(p, X, Y, bug="dW2"), PARAMS,
                                precision=precision, sweep=False)
    assert {name for name, _ in doubled.wrong} == {"W2"} and len(doubled.wrong) == PARAMS["W2"].size
    assert doubled.parts["W2"].verdict == "bug"
    assert doubled.parts["W2"].cause.startswith("every entry is 2 × the true gradient")
    assert all(doubled.parts[name].ok for name in PARAMS if name != "W2")

    four = da.check_gradient(cost, lambda p: L.network_gradients(p, X, Y, bug="db1"), PARAMS, precision=precision,
                             sweep=False)
    assert {name for name, _ in four.wrong} == {"b1"}
    assert four.parts["b1"].cause.startswith("every entry is 4 × the true gradient")
    assert four.cause.startswith("b1: every entry is 4 × the true gradient")


def test_gradients_keyed_by_name_and_missing_keys():
    by_name = lambda p: {k[1:]: v for k, v in L.network_gradients(p, X, Y).items()}
    assert da.check_gradient(cost, by_name, PARAMS, sweep=False).ok
    missing = lambda p: {k: v for k, v in L.network_gradients(p, X, Y).items() if k != "db3"}
    with pytest.raises(da.DerivauditError, match="grad_f returned no gradient for 'b3'"):
        da.check_gradient(cost, missing, PARAMS)
    worst = da.check_gradient(cost, lambda p: L.network_gradients(p, X, Y, bug="dW2"), PARAMS, sweep=False).worst(2)
    assert worst["index"][0][0] == "W2"


def test_tuple_inputs_are_named_by_the_function():
    def f(a, b):
        return np.sum(a ** 2 * np.sin(b))

    def grad(a, b):
        return 2 * a * np.sin(b), -a ** 2 * np.cos(b)            # wrong sign in the second

    result = da.check_gradient(f, grad, (np.array([1.0, 2.0]), np.array([0.3, 0.4])), sweep=False)
    assert list(result.parts) == ["a", "b"] and {n for n, _ in result.wrong} == {"b"}
    assert "sign flip" in result.parts["b"].cause


@pytest.mark.parametrize("precision", ["float64", "mp"])
def test_check_jacobian_whole_and_vjp(precision):
    f = lambda x: np.array([x[0] * x[1], np.sin(x[0]), np.exp(x[1]) / 3])
    jac = lambda x: np.array([[x[1], x[0]], [np.cos(x[0]), 0.0], [0.0, np.exp(x[1]) / 3]])
    x = np.array([0.5, 2.0])
    good = da.check_jacobian(f, jac, x, precision=precision)
    assert good.verdict == "fine" and good.precision == precision
    assert good.relative_difference < (1e-25 if precision == "mp" else 1e-9)
    bad = da.check_jacobian(f, lambda x: jac(x) * [[1, 1], [1, 1], [1, -1]], x, precision=precision)
    assert bad.wrong == ((2, 1),) and bad.cause.startswith("sign flip at entries (2, 1)")
    vjp = da.check_jacobian(f, lambda x, v: v @ jac(x), x, vjp=True, precision=precision)
    assert vjp.verdict == "fine" and vjp.relative_difference < (1e-25 if precision == "mp" else 1e-9)
    wrong_vjp = da.check_jacobian(f, lambda x, v: v @ jac(x) * [1, -1], x, vjp=True, precision=precision)
    assert wrong_vjp.verdict == "bug"


def test_check_jacobian_several_inputs():
    g = lambda a, b: a * np.sin(b)
    x = (np.array([1.0, 2.0]), np.array([0.3, 0.4]))
    ok = da.check_jacobian(g, lambda a, b: (np.diag(np.sin(b)), np.diag(a * np.cos(b))), x)
    assert ok.verdict == "fine" and list(ok.parts) == ["a", "b"]
    bad = da.check_jacobian(g, lambda a, b: (np.diag(np.sin(b)), np.diag(a * np.sin(b))), x)
    assert set(bad.wrong) == {("b", (0, 0)), ("b", (1, 1))}
    as_dict = da.check_jacobian(lambda p: p["a"] * np.sin(p["b"]),
                                lambda p: {"a": np.diag(np.sin(p["b"])), "b": np.diag(p["a"] * np.cos(p["b"]))},
                                {"a": x[0], "b": x[1]})
    assert as_dict.ok
    with pytest.raises(da.DerivauditError, match=r"jac returned \(3,\) for θ"):
        da.check_jacobian(lambda x: x * 2, lambda x: np.ones(3), np.ones(3))


def _quadratic(n, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, 8))
    f = lambda t: 0.5 * np.sum((A.T @ t) ** 2) + np.sum(np.cos(t))
    g = lambda t: A @ (A.T @ t) - np.sin(t)
    return f, g, rng.normal(size=n)


def test_large_theta_default_names_every_wrong_entry_with_about_n_calls():
    f, g, theta = _quadratic(3000)
    ok = da.check_gradient(f, g, theta)
    assert ok.ok and ok.verdict in ("fine", "ok")
    calls = int(ok.notes[-1].split()[0]) if ok.notes[-1].endswith("evaluations of f") else None
    assert calls is not None and calls < 1.15 * theta.size     # n forward differences, samples
    bad = lambda t: g(t) * np.where(np.isin(np.arange(t.size), [7, 1500, 2999]), -1.0, 1.0)
    result = da.check_gradient(f, bad, theta)
    assert sorted(result.wrong) == [(7,), (1500,), (2999,)] and "sign flip" in result.cause


def test_directions_then_bisection():
    f, g, theta = _quadratic(4096)
    bad = lambda t: g(t) * np.where(np.arange(t.size) == 1234, -1.0, 1.0)
    result = da.check_gradient(f, bad, theta, mode="directions", directions=4)
    assert result.wrong == ((1234,),) and "sign flip at entries (1234,)" in result.cause
    calls = int(result.notes[0].split(": ")[1].split()[0])
    assert calls <= 4 * 4 + 2 + 8 * 12 + 4          # k directions, one bisection path of log2(4096) = 12 levels
    clean = da.check_gradient(f, g, theta, mode="directions", directions=4)
    assert clean.wrong == () and clean.ok
    with pytest.raises(da.DerivauditError, match="mode"):
        da.check_gradient(f, g, theta, mode="blocks")


def test_float32_inputs_and_kinks_are_diagnosed():
    W = np.array([0.5, -1.0, 2.0], dtype=np.float32)
    result = da.check_gradient(lambda w: np.sum(w ** 3), lambda w: 3 * w ** 2, W, sweep=False)
    assert result.ok and any("float32 inputs (θ)" in n for n in result.notes)
    relu = lambda w: np.sum(np.maximum(w, 0.0) * 2)
    at_kink = da.check_gradient(relu, lambda w: 2.0 * (w > 0), np.array([0.0, 1.0]), sweep=False,
                                complex_step=False)
    assert at_kink.wrong == ((0,),) and "a kink within the step of entries (0,)" in at_kink.cause



def test_torch_autograd_function_backward_with_check_layer():
    torch = pytest.importorskip("torch")

    class Cube(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, w):
            ctx.save_for_backward(x, w)
            return (x @ w) ** 3

        @staticmethod
        def backward(ctx, dout):
            x, w = ctx.saved_tensors
            dz = 3 * (x @ w) ** 2 * dout
            return dz @ w.T, x.T @ dz

    class Context:
        def save_for_backward(self, *tensors):
            self.saved_tensors = tensors

    def forward(x, w):
        ctx = Context()
        return Cube.forward(ctx, x, w), ctx

    def backward(dout, ctx):
        return Cube.backward(ctx, dout)

    x, w = torch.randn(3, 4, dtype=torch.float64), torch.randn(4, 2, dtype=torch.float64)
    result = da.check_layer(forward, backward, x, w)
    assert result.ok and list(result.parts) == ["x", "w"]
    wrong = da.check_layer(forward, lambda dout, ctx: (backward(dout, ctx)[0], -backward(dout, ctx)[1]), x, w)
    assert {n for n, _ in wrong.wrong} == {"w"}
    as_mp = da.check_gradient(lambda t: torch.sum(torch.sin(t) ** 2), lambda t: torch.sin(2 * t),
                              torch.randn(4, dtype=torch.float64), precision="mp")
    assert as_mp.precision == "float64" and any("cannot hold balls" in n for n in as_mp.notes)


def test_large_theta_with_every_entry_wrong_samples_the_re_measurement():
    f, g, theta = _quadratic(3000)
    result = da.check_gradient(f, lambda t: 2 * g(t), theta, sweep=False)
    assert len(result.wrong) == theta.size
    assert result.cause.startswith("every entry is 2 × the true gradient")
    assert any("the other 2600 are named wrong too" in n for n in result.notes)
