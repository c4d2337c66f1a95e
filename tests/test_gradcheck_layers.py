"""check_layer and check_gradient on layers written the way students write them, in both precisions.

Each layer is checked correct and with a realistic planted bug: in float64 the bug is a "bug" in exactly
its gradient; at 50 digits every correct gradient agrees to better than 1e-25 and the planted bug is
certain, in exactly its gradient.
"""

import functools

import numpy as np
import pytest

import derivaudit as da
import student_layers as L
from derivaudit.testing import assert_layer

RNG = np.random.default_rng(2024)
CONV = {"stride": 1, "pad": 1}
POOL = {"pool_height": 2, "pool_width": 2, "stride": 2}

#: name: (forward, backward, inputs, the gradient the planted bug lives in)
LAYERS = {
    "affine": (L.affine_forward, L.affine_backward,
               (RNG.normal(size=(3, 2, 2)), RNG.normal(size=(4, 3)), RNG.normal(size=3)), "b"),
    "relu": (L.relu_forward, L.relu_backward, (RNG.normal(size=(3, 4)),), "x"),
    "batchnorm": (L.batchnorm_forward, L.batchnorm_backward,
                  (RNG.normal(size=(4, 3)), RNG.normal(size=3), RNG.normal(size=3), {"eps": 1e-5}), "x"),
    "conv": (L.conv_forward_naive, L.conv_backward_naive,
             (RNG.normal(size=(2, 2, 4, 4)), RNG.normal(size=(3, 2, 3, 3)), RNG.normal(size=3), CONV), "x"),
    "max_pool": (L.max_pool_forward_naive, L.max_pool_backward_naive, (RNG.normal(size=(1, 2, 4, 4)), POOL), "x"),
    "rnn_step": (L.rnn_step_forward, L.rnn_step_backward,
                 (RNG.normal(size=(2, 3)), RNG.normal(size=(2, 4)), RNG.normal(size=(3, 4)),
                  RNG.normal(size=(4, 4)), RNG.normal(size=4)), "prev_h"),
    "word_embedding": (L.word_embedding_forward, L.word_embedding_backward,
                       (np.array([[0, 2, 2], [1, 2, 0]]), RNG.normal(size=(4, 3))), "W"),
}
X_SCORES = RNG.normal(size=(5, 4))
LABELS = np.array([0, 3, 1, 1, 2])


@pytest.mark.parametrize("precision", ["float64", "mp"])
@pytest.mark.parametrize("name", list(LAYERS))
def test_correct_layer(name, precision):
    forward, backward, inputs, _ = LAYERS[name]
    result = da.check_layer(forward, backward, *inputs, precision=precision)
    assert result.ok and result.wrong == () and result.precision == precision
    assert all(g.verdict == "fine" for g in result.gradients)
    limit = 1e-25 if precision == "mp" else 1e-9
    assert all(g.relative_difference < limit for g in result.gradients), result.summary()


@pytest.mark.parametrize("precision", ["float64", "mp"])
@pytest.mark.parametrize("name", list(LAYERS))
def test_planted_bug_found_in_exactly_its_gradient(name, precision):
    forward, backward, inputs, culprit = LAYERS[name]
    result = da.check_layer(forward, functools.partial(backward, bug=True), *inputs, precision=precision)
    assert not result.ok and result.precision == precision
    assert {part for part, _ in result.wrong} == {culprit}
    for part, gradient in result.parts.items():
        assert (gradient.verdict == "bug") == (part == culprit), (part, gradient.verdict)
        if precision == "mp" and part != culprit:
            assert gradient.relative_difference < 1e-25


def test_integer_inputs_are_held_fixed_and_named_parts():
    forward, backward, inputs, _ = LAYERS["word_embedding"]
    result = da.check_layer(forward, backward, *inputs)
    assert list(result.parts) == ["W"] and result.parts["W"].theta.shape == (4, 3)
    result = da.check_layer(*LAYERS["batchnorm"][:2], *LAYERS["batchnorm"][2])
    assert list(result.parts) == ["x", "gamma", "beta"]


def test_conv_wrong_entries_and_cause():
    forward, backward, inputs, _ = LAYERS["conv"]
    result = da.check_layer(forward, functools.partial(backward, bug=True), *inputs)
    assert len(result.parts["x"].wrong) > 0 and result.parts["w"].wrong == ()
    assert result.wrong[0][0] == "x" and len(result.wrong[0][1]) == 4
    assert "x:" in result.cause and "x: relative difference" in result.summary()


@pytest.mark.parametrize("precision", ["float64", "mp"])
@pytest.mark.parametrize("loss, bug_cause", [(L.softmax_loss, "every entry is 0.2 × the true gradient"),
                                             (L.svm_loss, "the analytic gradient is zero at entries")])
def test_losses_with_integer_labels_via_lambdas(loss, bug_cause, precision):
    ok = da.check_gradient(lambda x: loss(x, LABELS)[0], lambda x: loss(x, LABELS)[1], X_SCORES,
                           precision=precision)
    assert ok.verdict == "fine" and ok.wrong == () and ok.precision == precision
    assert ok.relative_difference < (1e-25 if precision == "mp" else 1e-9)
    bad = da.check_gradient(lambda x: loss(x, LABELS, True)[0], lambda x: loss(x, LABELS, True)[1], X_SCORES,
                            precision=precision)
    assert bad.verdict == "bug" and bug_cause in bad.cause


def test_svm_bug_names_the_correct_class_entries():
    bad = da.check_gradient(lambda x: L.svm_loss(x, LABELS, True)[0], lambda x: L.svm_loss(x, LABELS, True)[1],
                            X_SCORES, precision="mp")
    # the missing term is the correct class's: every wrong entry is (i, y_i)
    assert bad.wrong and all(index[1] == LABELS[index[0]] for index in bad.wrong)


def test_assert_layer_names_the_input_and_entries():
    forward, backward, inputs, _ = LAYERS["affine"]
    assert assert_layer(forward, backward, *inputs).ok
    with pytest.raises(AssertionError) as info:
        assert_layer(forward, functools.partial(backward, bug=True), *inputs, precision="mp")
    message = str(info.value)
    assert message.startswith("layer check failed (threshold 1e-05)")
    assert "wrong entries: ('b', (" in message and "b: relative difference" in message


def test_backward_returning_too_few_gradients_is_one_clear_line():
    forward, backward, inputs, _ = LAYERS["affine"]
    with pytest.raises(da.DerivauditError, match=r"backward returned 2 gradients, but there are 3 floating-point "
                                                 r"inputs \(x, w, b\)"):
        da.check_layer(forward, lambda dout, cache: backward(dout, cache)[:2], *inputs)
    with pytest.raises(da.DerivauditError, match="at least one floating-point array"):
        da.check_layer(lambda y: y * 2, lambda d, c: d, np.array([1, 2]))
