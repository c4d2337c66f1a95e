"""A malformed claim is that claim's verdict, *invalid*, with its message; the others are still judged (issue 23).

A claim that cannot be read or evaluated (syntax error, unknown name, shape
error, a per-formula limit) gets the verdict ``invalid`` and the one line an
error would say; a malformed ``[backward]`` intermediate makes exactly the
claims built on it invalid; an audit with an invalid claim exits 2 after
every verdict is printed.  A broken model ([shapes], [params], [forward])
still stops the audit with one line.
"""

import copy
import csv
import json
import math
from pathlib import Path

import pytest

import derivaudit as da
from derivaudit.cli import main
from derivaudit.errors import SpecError
from derivaudit.results import exit_code_of
from derivaudit.verdicts import INVALID, ExitCode, Verdict

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
MLP = (EXAMPLES / "mlp_2layer.toml").read_text(encoding="utf-8")
RIGHT_B1 = 'b1 = "sum(dZ1, axis=1, keepdims=True) / 8"'
PROVED = "correct (proved)"

SMALL = {  # a tanh unit with a squared error: 2 inputs, batch of 3
    "shapes": {"X": [2, 3], "Y": [1, 3], "W": [1, 2], "b": [1, 1]},
    "params": {"names": ["W", "b"]},
    "forward": {"Z": "W @ X + b", "A": "tanh(Z)", "loss": "sum((A - Y)**2) / 3"},
    "backward": {"dZ": "2 * (A - Y) * (1 - A**2) / 3"},
    "claims": {"W": "dZ @ X.T", "b": "sum(dZ, axis=1, keepdims=True)"},
    "audit": {"points": 1},
}


def small(**sections):
    spec = copy.deepcopy(SMALL)
    for section, table in sections.items():
        spec.setdefault(section, {}).update(table)
    return spec


def mlp_with_b1(tmp_path, claim: str) -> Path:
    assert RIGHT_B1 in MLP
    path = tmp_path / "mlp.toml"
    path.write_text(MLP.replace(RIGHT_B1, f'b1 = "{claim}"'), encoding="utf-8")
    return path


def test_invalid_is_one_verdict_word_and_exits_2():
    assert Verdict.INVALID is Verdict(INVALID) and INVALID == "invalid" and str(Verdict.INVALID) == "invalid"
    assert not Verdict.INVALID.correct
    assert exit_code_of(Verdict.INVALID) is ExitCode.BAD_INPUT


def test_an_unknown_name_in_a_claim_costs_no_other_claim_its_verdict(tmp_path):
    path = mlp_with_b1(tmp_path, "sum(dQ1, axis=1, keepdims=True) / 8")
    result = da.audit(path, points=1)  # no exception: the result says what is wrong
    assert [(c.parameter, str(c.verdict)) for c in result.claims] == [
        ("W2", PROVED), ("b2", PROVED), ("W1", PROVED), ("b1", "invalid")]
    b1 = result["b1"]
    assert b1.verdict is Verdict.INVALID and not b1.correct
    assert b1.message == (f"{path}: [claims] b1: uses 'dQ1', which is neither declared nor defined "
                          "(did you mean 'dZ1'?)")
    assert b1.claim == "sum(dQ1, axis=1, keepdims=True) / 8" and b1.shape == (5, 1)
    assert result.verdict is Verdict.INVALID and result.exit_code is ExitCode.BAD_INPUT and not result.ok
    text = result.summary()
    assert "3 of 4 claims correct; invalid: b1" in text
    row = next(line for line in text.splitlines() if line.startswith("b1 "))
    assert row.split()[:3] == ["b1", "5x1", "invalid"]
    assert f"  - invalid: {b1.message}" in text
    document = json.loads(result.to_json())
    assert document["verdict"] == "invalid" and document["exit_code"] == 2
    claims = {c["parameter"]: c for c in document["claims"]}
    assert claims["b1"]["verdict"] == "invalid" and claims["b1"]["message"] == b1.message
    assert claims["b1"]["claim_shape"] is None and claims["W1"]["message"] is None
    assert [claims[p]["verdict"] for p in ("W2", "b2", "W1")] == [PROVED] * 3


def test_a_shape_error_in_a_claim_is_its_verdict_in_every_report(tmp_path, capsys):
    path = mlp_with_b1(tmp_path, "sum(dZ1, axis=0, keepdims=True) @ dZ2")
    html, folder = tmp_path / "r.html", tmp_path / "csv"
    code = main(["audit", str(path), "--points", "1", "--html", str(html), "--csv", str(folder)])
    out, err = capsys.readouterr()
    message = (f"{path}: [claims] b1 = 'sum(dZ1, axis=0, keepdims=True) @ dZ2': '@' of shapes (1, 8) and (3, 8): "
               "inner dimensions 8 and 3 differ at column 1")
    assert code == 2  # the input needs fixing, and every verdict was printed first
    assert err == f"derivaudit: error: {message}\n"  # one line per invalid claim, as a bad spec gets
    assert [line.split()[2] for line in out.splitlines()[1:5]] == ["correct", "correct", "correct", "invalid"]
    assert "3 of 4 claims correct; invalid: b1" in out and f"- invalid: {message}" in out
    with open(folder / "summary.csv", newline="", encoding="utf-8") as f:
        rows = {r["parameter"]: r for r in csv.DictReader(f)}
    assert rows["b1"]["verdict"] == "invalid" and rows["b1"]["message"] == message
    assert rows["W1"]["verdict"] == PROVED and rows["W1"]["message"] == ""
    page = html.read_text(encoding="utf-8")
    assert "∂loss/∂b1: <span class=\"v-warn\">invalid</span>" in page
    assert "inner dimensions 8 and 3 differ at column 1" in page and "3 of 4 claimed gradients correct" in page
    assert main(["audit", str(path), "--points", "1", "--json"]) == 2
    document = json.loads(capsys.readouterr().out)
    assert document["exit_code"] == 2 and document["errors"] == [message]
    assert [(c["parameter"], c["verdict"]) for c in document["claims"]] == [
        ("W2", PROVED), ("b2", PROVED), ("W1", PROVED), ("b1", "invalid")]
    assert document["claims"][3]["message"] == message


def test_a_malformed_backward_intermediate_makes_the_claims_built_on_it_invalid():
    # dW = dZ @ X is (1, 3) @ (2, 3); dV uses dW; b does not use either
    spec = small(backward={"dW": "dZ @ X", "dV": "2 * dW"}, claims={"W": "dV / 2"})
    result = da.audit(spec)
    assert [(c.parameter, str(c.verdict)) for c in result.claims] == [("W", "invalid"), ("b", PROVED)]
    inner = "[backward] dW = 'dZ @ X': '@' of shapes (1, 3) and (2, 3): inner dimensions 3 and 2 differ at column 1"
    assert result["W"].message == (f"<spec>: [claims] W: uses 'dV', which cannot be evaluated: "
                                   f"[backward] dV: uses 'dW', which cannot be evaluated: {inner}")
    checks = {b.name: b for b in result.backward}
    assert checks["dZ"].correct and not checks["dZ"].invalid
    assert checks["dW"].invalid == f"<spec>: {inner}" and checks["dW"].of == "W" and not checks["dW"].correct
    assert checks["dW"].describe() == f"dW invalid: <spec>: {inner}"
    assert result.exit_code is ExitCode.BAD_INPUT
    text = result.summary()
    assert "first wrong step" not in text and f"dW invalid: <spec>: {inner}" in text


def test_a_cycle_of_backward_intermediates_makes_only_the_claims_on_it_invalid():
    # dA and dB use each other, dC uses itself, dW uses dA: W is invalid, b is still proved
    spec = small(backward={"dA": "dB * 2", "dB": "dA / 2", "dC": "dC + dZ", "dW": "dA @ X.T"},
                 claims={"W": "dW"})
    result = da.audit(spec)
    assert [(c.parameter, str(c.verdict)) for c in result.claims] == [("W", "invalid"), ("b", PROVED)]
    cycle = "<spec>: [backward] dA: definitions form a cycle: dA -> dB -> dA"
    checks = {b.name: b for b in result.backward}
    assert checks["dA"].invalid == cycle
    assert checks["dB"].invalid == "<spec>: [backward] dB: definitions form a cycle: dA -> dB -> dA"
    assert checks["dC"].invalid == "<spec>: [backward] dC: definitions form a cycle: dC -> dC"
    assert result["W"].message == ("<spec>: [claims] W: uses 'dW', which cannot be evaluated: [backward] dW: "
                                   "uses 'dA', which cannot be evaluated: [backward] dA: definitions form a "
                                   "cycle: dA -> dB -> dA")
    assert result.exit_code is ExitCode.BAD_INPUT


def test_a_cycle_in_the_model_still_stops_the_audit():
    with pytest.raises(SpecError, match=r"\[forward\] Z: definitions form a cycle: Z -> A -> Z"):
        da.audit(small(forward={"Z": "W @ X + b + A", "A": "tanh(Z)"}))


def test_an_unused_malformed_intermediate_still_needs_fixing():
    result = da.audit(small(backward={"G": "dZ @ X"}))
    assert [str(c.verdict) for c in result.claims] == [PROVED, PROVED]
    assert [b.name for b in result.backward if b.invalid] == ["G"]
    assert result.verdict is Verdict.INVALID and int(result.exit_code) == 2
    assert "G invalid: <spec>: [backward] G = 'dZ @ X'" in result.summary()
    assert json.loads(result.to_json())["backward"][-1]["message"].startswith("<spec>: [backward] G = ")


def test_a_syntax_error_in_a_claim_is_that_claims_verdict():
    result = da.audit(small(claims={"b": "sum(dZ, axis=1, keepdims=True"}))
    assert result["W"].verdict is Verdict.PROVED
    b = result["b"]
    assert b.verdict is Verdict.INVALID
    assert b.message.startswith("<spec>: [claims] b = 'sum(dZ, axis=1, keepdims=True': ")
    assert "syntax error" in b.message and "\n" not in b.message
    assert math.isnan(b.rel_difference) and b.wrong_entries == [] and b.steps == []
    assert b.claim_shape is None


def test_claims_keyed_dW_name_the_key_in_their_message():
    spec = small()
    spec["claims"] = {"dW": "dZ @ Q.T", "b": "sum(dZ, axis=1, keepdims=True)"}
    result = da.audit(spec)
    assert result["W"].message == "<spec>: [claims] dW: uses 'Q', which is neither declared nor defined"


def test_a_claim_past_a_size_limit_is_invalid_and_the_others_judged():
    result = da.audit(small(claims={"W": "dZ @ X.T + 0 * 9**9**9"}))
    assert result["W"].verdict is Verdict.INVALID
    assert result["W"].message == ("<spec>: [claims] W = 'dZ @ X.T + 0 * 9**9**9': power has about 369693100 digits "
                                   "(limit 1000) at column 16")
    assert result["b"].verdict is Verdict.PROVED


def test_every_claim_invalid_still_gives_a_result():
    result = da.audit(small(claims={"W": "dZ @ X", "b": "nope(dZ)"}))
    assert [str(c.verdict) for c in result.claims] == ["invalid", "invalid"]
    assert int(result.exit_code) == 2 and "0 of 2 claims correct; invalid: W, b" in result.summary()


def test_a_hostile_claim_text_is_escaped_in_its_message(tmp_path, capsys):
    hostile = "3*W  # \x1b[2K\x1b[1GW: ok\r\u202e"
    result = da.audit(small(claims={"W": f"dZ @ X.T + ({hostile}"}))
    message = result["W"].message
    assert result["W"].verdict is Verdict.INVALID and result["b"].verdict is Verdict.PROVED
    assert not any(c in message for c in ("\x1b", "\r", "\u202e")) and "\\x1b[2K" in message
    spec = tmp_path / "spec.toml"
    spec.write_text('[shapes]\nW = [2, 2]\nV = [2]\n[params]\nnames = ["W", "V"]\n[forward]\n'
                    'loss = "np.sum(W**2) + np.sum(V**2)"\n[claims]\nW = "2*W + (3*W  # \\u001b[2K\\u001b[1GW: ok\\r"\n'
                    'V = "2*V"\n', encoding="utf-8")
    assert main(["audit", str(spec), "--html", str(tmp_path / "r.html"), "--csv", str(tmp_path / "r.csv")]) == 2
    out, err = capsys.readouterr()
    files = [p.read_text("utf-8") for p in sorted(tmp_path.rglob("r*")) if p.is_file()]
    assert "invalid" in out and "\\x1b[2K" in err
    for text in [out, err, *files]:
        assert not any(c in text for c in ("\x1b", "\r", "\u202e")), repr(text[:300])


def test_errors_list_each_malformed_formula_once_in_the_sections_order():
    # dV fails when evaluated (a shape), the Hessian claim when read (a name): dV still comes first,
    # and V's claim, invalid only because it uses dV, adds no line of its own
    spec = {"shapes": {"W": [1, 2], "V": [2]}, "params": {"names": ["W", "V"]},
            "forward": {"loss": "sum(W**3) + sum(V**2)"}, "backward": {"dV": "V @ W"},
            "claims": {"W": "3*W**2", "V": "dV"}, "hessians": {"V": "dQ"}, "audit": {"points": 1}}
    result = da.audit(spec)
    assert result.errors == [
        "<spec>: [backward] dV = 'V @ W': '@' of shapes (2,) and (1, 2): inner dimensions 2 and 1 differ at column 1",
        "<spec>: [hessians] V: uses 'dQ', which is neither declared nor defined"]
    assert result["W"].verdict is Verdict.PROVED and result["V"].verdict is Verdict.INVALID
    assert result["V"].message.startswith("<spec>: [claims] V: uses 'dV', which cannot be evaluated: [backward] dV")


def test_a_malformed_hessian_claim_is_invalid_beside_the_judged_gradient():
    spec = {"shapes": {"w": [2]}, "params": {"names": ["w"]}, "forward": {"loss": "w[0] * w[1]**2"},
            "claims": {"w": "np.stack([w[1]**2, 2*w[0]*w[1]])"}, "hessians": {"w": "np.eye(3) @ w"},
            "audit": {"points": 1}}
    result = da.audit(spec)
    assert result["w"].verdict is Verdict.PROVED
    (h,) = result.hessians
    assert h.verdict is Verdict.INVALID and h.message.startswith("<spec>: [hessians] w = 'np.eye(3) @ w': ")
    assert result.exit_code is ExitCode.BAD_INPUT
    assert "Hessian w (2x2): invalid" in result.summary()
    assert json.loads(result.to_json())["hessians"][0]["message"] == h.message


@pytest.mark.parametrize("sections, message", [
    ({"forward": {"A": "tanh(Q)"}}, "[forward] A: uses 'Q', which is neither declared in [shapes] nor defined"),
    ({"forward": {"Z": "W @ X.T + b"}}, "'@' of shapes (1, 2) and (3, 2)"),
    ({"claims": {"V": "W"}}, "[claims] V: claims a gradient for 'V', which is not a parameter"),
])
def test_a_broken_model_still_stops_the_audit(sections, message):
    with pytest.raises(SpecError) as info:
        da.audit(small(**sections))
    assert message in str(info.value) and "\n" not in str(info.value)
