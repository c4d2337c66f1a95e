"""``--json``: one JSON document per command, numbers as strings with every digit."""

import json

import mpmath

import derivaudit as da
from derivaudit.cli import main
from derivaudit.reports.json_doc import SCHEMA, json_text


def test_study_json_keeps_every_digit():
    table = da.study("theta**3", wrt="theta", at={"theta": "0.1"}, eps="1e-2,1e-3", schemes=["centered"], dps=40)
    document = json.loads(json_text(table))
    assert document["schema"] == SCHEMA and document["kind"] == "study"
    assert document["formula"] == {"typed": "theta**3", "canonical": "theta**3"}
    assert document["point_typed"] == {"theta": "0.1"} and document["point"] == {"theta": "1/10"}
    first = document["rows"][0]
    assert first["approx"] == "0.0301" and first["exact"] == "0.03"
    # every certified digit: the 40 digits of the study
    assert document["rows"][1]["rel_error"] == mpmath.nstr(table.table["rel_error"].iloc[1], 40, min_fixed=-5, max_fixed=41)
    assert len(document["rows"][1]["rel_error"].replace("e-5", "").replace(".", "").lstrip("0")) == 40
    assert document["summary"][0]["theoretical_order"] == 2


def test_check_json_from_the_cli(capsys):
    assert main(["check", "log(1+exp(w*x+b))", "--wrt", "w", "--claim", "sigmoid(w*x+b)", "--json"]) == 1
    out = capsys.readouterr().out
    document = json.loads(out)  # stdout is the document alone
    component = document["components"][0]
    assert document["verdict"] == "wrong" and component["claim"]["typed"] == "sigmoid(w*x+b)"
    assert component["witness"]["point"] == {"b": "1/2", "w": "-1/2", "x": "3/4"}
    assert component["witness"]["claim_value"].startswith("0.53120937337375625724507144559710566705347016076")
    assert any("chain rule" in d["mistake"] for d in component["diagnosis"])


def test_study_json_from_the_cli_with_files(tmp_path, capsys):
    assert main(["study", "x**2", "--at", "x=1", "--eps", "0.1", "--json", "--csv", str(tmp_path / "t.csv")]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["rows"][0]["approx"] == "2.1" and (tmp_path / "t.csv").exists()
