"""Specs are untrusted: loading runs under budgets and refuses bad [audit] values (issue 13 item 11)."""

import time

import pytest

from derivaudit.audits.spec import load_spec
from derivaudit.cli import main
from derivaudit.errors import LimitExceeded, SpecError
from derivaudit.limits import Limits

SMALL = {"shapes": {"W": [2]}, "params": {"names": ["W"]},
         "forward": {"loss": "sum(W**2)"}, "claims": {"W": "2*W"}}


def test_two_100_by_100_arrays_are_refused_quickly():
    spec = {"shapes": {"A": [100, 100], "B": [100, 100]}, "params": {"names": ["A"]},
            "forward": {"C": "A @ B", "loss": "sum(C)"}, "claims": {"A": "ones_like(A)"}}
    start = time.perf_counter()
    with pytest.raises(LimitExceeded) as info:
        load_spec(spec)
    assert time.perf_counter() - start < 10
    assert "[forward] C" in str(info.value)


def test_loading_runs_under_the_symbolic_budget():
    spec = {"shapes": {"A": [30, 30], "B": [30, 30]}, "params": {"names": ["A"]},
            "forward": {"C": "A @ B", "D": "C @ B", "E": "D @ B", "loss": "sum(E)"},
            "claims": {"A": "ones_like(A)"}}
    with pytest.raises(LimitExceeded, match="symbolic_seconds"):
        load_spec(spec, limits=Limits(symbolic_seconds=0.2))


def test_3000_chained_definitions_sort_without_recursion():
    forward = {f"z{k}": f"z{k - 1} + W" if k else "W" for k in range(3000)}
    forward["loss"] = "sum(z2999)"
    spec = load_spec({**SMALL, "forward": dict(reversed(list(forward.items()))), "claims": {"W": "3000*ones(2)"}},
                     limits=Limits(symbolic_seconds=60))
    assert [d.name for d in spec.forward][:3] == ["z0", "z1", "z2"]


def test_a_cycle_is_still_named():
    with pytest.raises(SpecError, match="definitions form a cycle: a -> b -> a"):
        load_spec({**SMALL, "forward": {"a": "b + W", "b": "a", "loss": "sum(a)"}})


@pytest.mark.parametrize("audit, message", [
    ({"range": [float("-inf"), float("inf")]}, "[audit] range: must be [low, high] with finite low < high"),
    ({"range": [0, float("nan")]}, "[audit] range: must be [low, high] with finite low < high"),
    ({"range": [1, 1]}, "[audit] range: must be [low, high] with finite low < high"),
    ({"dps": 1_000_000}, "[audit] dps: 1000000 digits is above the limit of 10000 (Limits.max_dps)"),
])
def test_audit_values_are_checked_at_the_edge(audit, message):
    with pytest.raises(SpecError) as info:
        load_spec({**SMALL, "audit": audit})
    assert message in str(info.value)


def test_the_cli_says_one_line_for_an_infinite_range(tmp_path, capsys):
    path = tmp_path / "spec.toml"
    path.write_text('[shapes]\nW = [2]\n[params]\nnames = ["W"]\n[forward]\nloss = "sum(W**2)"\n'
                    '[claims]\nW = "2*W"\n[audit]\nrange = [-inf, inf]\n')
    assert main(["audit", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "[audit] range" in err[0]
