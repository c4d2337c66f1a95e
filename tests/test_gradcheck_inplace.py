"""Issue 25 items 8–10: user code that works in place, ``ufunc.at`` on ball arrays, a NaN loss.

Second-order checks (``check_hessian``, ``check_hvp``, ``check_layer(order=2)``) and the
full ``check_jacobian`` isolate every call the same way (tests at the end).

Every call of user code gets its own copies of the arrays (the checker's own
``dout`` cannot be changed under it); a function that changes its input is
told so in both precisions with the same message; ``np.zeros(shape,
dtype=dout.dtype)`` then ``np.add.at`` (the word-embedding backward) stays in
balls; a NaN loss is the same clear error in both precisions.
"""

import numpy as np
import pytest

import derivaudit as da
from derivaudit.errors import DomainError

PRECISIONS = ["float64", "mp"]


def _triple_forward(x):
    return 3 * x, None


def _triple_backward_in_place(dout, cache):
    dout *= 3                       # in place on the upstream gradient: legal, it is backward's own
    return dout


@pytest.mark.parametrize("precision", PRECISIONS)
def test_backward_scaling_dout_in_place_is_correct(precision):
    x = np.random.default_rng(0).normal(size=(3, 4))
    result = da.check_layer(_triple_forward, _triple_backward_in_place, x, precision=precision)
    assert result.precision == precision
    assert result.verdict == "fine" and result.ok


def _centring_forward(x):
    x -= x.mean()                   # centres its input in place: the caller's x changes
    return x ** 2, x


def _centring_backward(dout, cache):
    return 2 * cache * dout


@pytest.mark.parametrize("precision", PRECISIONS)
def test_forward_changing_its_input_is_told_so(precision):
    x = np.random.default_rng(1).normal(size=5)
    with pytest.raises(da.DerivauditError) as info:
        da.check_layer(_centring_forward, _centring_backward, x, precision=precision)
    assert str(info.value) == ("forward changed its input x in place; copy the array inside forward "
                               "before modifying it")


def _scale_in_place(w):
    w *= 2
    return np.sum(w ** 2)


@pytest.mark.parametrize("precision", PRECISIONS)
def test_f_changing_its_input_is_told_so(precision):
    with pytest.raises(da.DerivauditError) as info:
        da.check_gradient(_scale_in_place, lambda w: 8 * w, np.array([0.5, -1.5]), precision=precision)
    assert str(info.value) == "f changed its input θ in place; copy the array inside f before modifying it"


def _embedding_forward(W, idx):
    return W[idx], (idx, W.shape)


def _embedding_backward(dout, cache):
    idx, shape = cache
    dW = np.zeros(shape, dtype=dout.dtype)        # an object array on balls
    np.add.at(dW, idx, dout)
    return dW


def test_word_embedding_backward_stays_in_balls():
    rng = np.random.default_rng(2)
    W = rng.normal(size=(5, 3))
    idx = np.array([[0, 3, 1], [3, 3, 4]])
    result = da.check_layer(_embedding_forward, _embedding_backward, W, idx, precision="mp")
    assert result.precision == "mp", result.notes
    assert result.ok and result.relative_difference < 1e-40
    assert not any("fell back" in n for n in result.notes)


def test_object_arrays_made_in_lifted_code_are_ball_arrays():
    from derivaudit.gradcheck.lifted import BallArray, lift
    from derivaudit.gradcheck.precision import lifted
    from flint import arb
    with lifted(30):
        x = lift(np.array([0.5, 1.5]))
        made = [np.zeros(3, dtype=x.dtype), np.empty(2, dtype=object), np.ones((2,), dtype=object),
                np.zeros_like(x, dtype=object)]
        plain = np.zeros(3, dtype=object)
        plain_sum = np.add.at(plain, [0, 0], x) or plain
    assert all(type(a) is BallArray for a in made)
    assert all(type(v) is arb for a in made for v in a.view(np.ndarray).flat)
    assert all(type(v) is arb for v in plain_sum.view(np.ndarray).flat)


def _nan_loss(w):
    return np.sum(np.log(w))        # log of a negative entry: NaN


@pytest.mark.parametrize("precision", PRECISIONS)
def test_nan_loss_is_the_same_clear_error_in_both_precisions(precision):
    with np.errstate(invalid="ignore"):
        with pytest.raises(DomainError) as info:
            da.check_gradient(_nan_loss, lambda w: 1 / w, np.array([0.5, -1.5]), precision=precision)
    assert str(info.value) == "f is not finite (nan) at f(θ)"


# -- second order: check_hessian, check_hvp, check_layer(order=2) ----------------------------

X2 = np.array([0.5, -1.25])


def _f2(x):
    return x[0] ** 3 * x[1] + np.exp(x[0] * x[1])


def _grad2(x):
    e = np.exp(x[0] * x[1])
    return np.array([3 * x[0] ** 2 * x[1] + x[1] * e, x[0] ** 3 + x[0] * e])


def _hess2(x):
    e = np.exp(x[0] * x[1])
    mixed = 3 * x[0] ** 2 + (1 + x[0] * x[1]) * e
    return np.array([[6 * x[0] * x[1] + x[1] ** 2 * e, mixed], [mixed, x[0] ** 2 * e]])


def _hvp_scaling_v(x, v):
    v *= 2                          # in place on its own direction: legal
    return _hess2(x) @ v / 2


def _grad_scaling_x(x):
    x *= 2                          # the gradient's own copy: legal, as a backward's dout
    return _grad2(x / 2)


def _hess_scaling_x(x):
    x *= 2
    return _hess2(x / 2)


def _f_centring(x):
    x -= 0.25                       # the function differentiated changes its input: a bug
    return _f2(x + 0.25)


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("v", [np.array([1.0, 2.0]), None])
def test_hvp_working_in_place_on_v_is_correct(precision, v):
    result = da.check_hvp(_grad2, _hvp_scaling_v, X2, v, precision=precision)
    assert result.precision == precision and result.verdict == "fine" and result.ok


@pytest.mark.parametrize("precision", PRECISIONS)
def test_hvp_of_a_gradient_working_in_place_is_correct(precision):
    result = da.check_hvp(_grad_scaling_x, lambda x, v: _hess2(x) @ v, X2, np.array([1.0, 2.0]),
                          precision=precision)
    assert result.precision == precision and result.ok


@pytest.mark.parametrize("precision", PRECISIONS)
def test_hessian_of_code_working_in_place_on_its_own_copies_is_correct(precision):
    # the reference is the differences of grad: grad changing the checker's x gave "bug", relative difference 1
    result = da.check_hessian(_f2, _hess_scaling_x, X2, grad=_grad_scaling_x, precision=precision)
    assert result.precision == precision and result.verdict == "fine" and result.ok
    assert not any("disagrees" in n for n in result.notes)


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("grad", [None, _grad2])
def test_hessian_of_f_changing_its_input_is_told_so(precision, grad):
    with pytest.raises(da.DerivauditError) as info:
        da.check_hessian(_f_centring, _hess2, X2, grad=grad, precision=precision)
    assert str(info.value) == "f changed its input x in place; copy the array inside f before modifying it"


def _square_forward(x):
    return x ** 2, x


def _square_backward(dout, cache):
    return 2 * cache * dout


def _square_double_backward(ddin, dout, cache):
    return 2 * dout * ddin, 2 * cache * ddin


def _square_backward_in_place(dout, cache):
    dout *= 2                       # in place on the upstream gradient: legal, it is backward's own
    return cache * dout


def _centring_square_forward(x):
    x -= x.mean()
    return x ** 2, x


@pytest.mark.parametrize("precision", PRECISIONS)
def test_double_backward_of_a_backward_scaling_dout_in_place_is_correct(precision):
    x = np.random.default_rng(4).normal(size=(2, 3))
    result = da.check_layer(_square_forward, _square_backward_in_place, x, precision=precision, order=2,
                            double_backward=_square_double_backward)
    assert result.precision == precision and result.verdict == "fine" and result.ok


@pytest.mark.parametrize("precision", PRECISIONS)
def test_double_backward_of_a_forward_changing_its_input_is_told_so(precision):
    x = np.random.default_rng(5).normal(size=(2, 3))
    with pytest.raises(da.DerivauditError) as info:
        da.check_layer(_centring_square_forward, _square_backward, x, precision=precision, order=2,
                       double_backward=_square_double_backward)
    assert str(info.value) == ("forward changed its input x in place; copy the array inside forward "
                               "before modifying it")


def _vector_f(x):
    return np.array([x[0] * x[1], np.sin(x[0])])


def _jacobian_in_place(x):
    x *= 1.5                        # its own copy
    x /= 1.5
    return np.array([[x[1], x[0]], [np.cos(x[0]), 0.0]])


def _vector_f_changing_x(x):
    x[1] += 1.0
    return np.array([x[0] * (x[1] - 1.0), np.sin(x[0])])


@pytest.mark.parametrize("precision", PRECISIONS)
def test_full_jacobian_of_code_working_in_place(precision):
    x = np.array([0.5, 2.0])
    assert da.check_jacobian(_vector_f, _jacobian_in_place, x, precision=precision).ok
    with pytest.raises(da.DerivauditError) as info:
        da.check_jacobian(_vector_f_changing_x, _jacobian_in_place, x, precision=precision)
    # one array is named θ, as check_gradient names it
    assert str(info.value) == "f changed its input θ in place; copy the array inside f before modifying it"
