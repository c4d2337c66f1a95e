"""derivaudit grade: task files, answers CSVs, verdicts, hostile answers, duplicates, resuming, reports."""

from __future__ import annotations

import csv
import io
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import derivaudit as da
from derivaudit.cli import main
from derivaudit.errors import SpecError
from derivaudit.grading import grade, load_task
from derivaudit.grading import judge as judge_module
from derivaudit.grading import runner
from derivaudit.grading.answers import Submission, answers_from_text
from derivaudit.grading.journal import Journal
from derivaudit.grading.judge import Judgement
from derivaudit.grading.normalise import answer_key
from derivaudit.grading.task import task_from_dict

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "grading"

CUBE = task_from_dict({"task": {"formula": "x**3", "wrt": "x", "seconds": 20},
                       "columns": {"id": "student", "claim": "answer"}})


def rows(*claims):
    return [Submission(i + 2, f"s{i}", (c,)) for i, c in enumerate(claims)]


def verdicts(result):
    return [a.verdict for a in result.answers]


@pytest.fixture(scope="module")
def example_class():
    return grade(EXAMPLE / "task.toml", EXAMPLE / "answers.csv", workers=1)


# -- the worked class of examples/grading -----------------------------------------------------------

EXPECTED = {
    "ada": "correct (proved)", "bo": "correct (proved)", "cleo": "correct (proved)", "dev": "wrong",
    "eli": "correct (proved)", "fay": "wrong", "gus": "wrong", "hana": "wrong", "ivo": "correct (proved)",
    "jo": "wrong", "kim": "wrong", "lea": "wrong", "max": "wrong", "nia": "invalid", "oli": "invalid",
    "pat": "correct (proved)", "quin": "correct (proved)", "rui": "invalid", "sam": "wrong",
    "tess": "correct (proved)", "uma": "wrong"}


def test_example_class_right_wrong_equivalent_invalid(example_class):
    assert {a.id: a.verdict for a in example_class.answers} == EXPECTED
    assert [a.id for a in example_class.answers] == list(EXPECTED)  # input order
    by_id = {a.id: a.judgement for a in example_class.answers}
    assert by_id["dev"].mistake == "chain rule without the inner derivative"
    assert by_id["gus"].mistake == "sign flipped"
    assert by_id["jo"].mistake == "off by a constant factor"
    assert by_id["kim"].mistake == "derivative with respect to the wrong variable"
    assert by_id["dev"].point == (("b", "1/2"), ("w", "-1/2"), ("x", "3/4"))
    assert by_id["nia"].message.startswith("syntax error")
    assert by_id["oli"].message == "formula is empty"
    assert "not allowed" in by_id["rui"].message
    assert example_class.counts == {"correct (proved)": 8, "wrong": 10, "invalid": 3}


def test_example_class_duplicates_judged_once(example_class):
    copies = {a.id: a.copies for a in example_class.answers}
    # ada, eli (no spaces), ivo (spaces around *), tess: one answer after normalisation
    assert copies["ada"] == copies["eli"] == copies["ivo"] == copies["tess"] == 4
    assert copies["dev"] == copies["fay"] == copies["sam"] == 3
    assert example_class.distinct == 16


def test_verdicts_are_those_of_check(example_class):
    """Each distinct answer's grade is the verdict ``derivaudit check`` gives its text."""
    task = load_task(EXAMPLE / "task.toml")
    seen = set()
    for a in example_class.answers:
        if a.key in seen or a.verdict == "invalid":
            continue
        seen.add(a.key)
        result = da.check(task.formula, wrt="w", claim=a.answer, limits=task.limits)
        assert str(result.verdict) == a.verdict, a.answer


# -- the same answer, the same verdict ------------------------------------------------------------

def test_same_verdict_whatever_the_batch_order_or_workers():
    claims = ["3*x**2", "x**3", "3*x*x", "-3*x**2", "3 * x ** 2", "2*x", "3*x^2 + 0", "6*x", "3*x**2 + 1e-30"]
    alone = {c: grade(CUBE, rows(c), workers=1).answers[0].verdict for c in claims}
    shuffled = claims * 2
    random.Random(3).shuffle(shuffled)
    for workers in (1, 2):
        judge_module.clear_caches()
        result = grade(CUBE, rows(*shuffled), workers=workers)
        assert {c: v for c, v in zip(shuffled, verdicts(result))} == alone
    assert alone["3*x**2 + 1e-30"] == "wrong" and alone["3*x*x"] == "correct (proved)"


def test_normalisation_keeps_meaning():
    assert answer_key(["3 * x ** 2"]) == answer_key([" 3*x**2\t"])
    assert answer_key(["1 2"]) != answer_key(["12"])
    assert answer_key(["x * * 2"]) != answer_key(["x ** 2"])
    assert answer_key(["\u00a0x"]) == ("\u00a0x",)  # an exotic space is the parser's to judge
    assert grade(CUBE, rows("\u00a03*x**2"), workers=1).answers[0].verdict == "invalid"


# -- hostile answers are data ---------------------------------------------------------------------

def test_hostile_answers_each_get_a_grade(tmp_path):
    sentinel = tmp_path / "pwned"
    hostile = [f"__import__('os').system('touch {sentinel}')", "x**(10**100)", "9**9**9**9",
               "(" * 300 + "x" + ")" * 300, "lambda: 1", "x" + "+x" * 6000, "exp(exp(exp(exp(x))))",
               "\x1b[31m3*x**2\x1b[0m", "3*x**2\x00", "x.__class__", "[x for x in 'a']", ""]
    result = grade(CUBE, rows(*hostile, "3*x**2"), workers=1)
    assert len(result.answers) == len(hostile) + 1 and not sentinel.exists()
    assert all(v in ("invalid", "undecided", "wrong") for v in verdicts(result)[:-1])
    assert verdicts(result)[-1] == "correct (proved)"
    assert verdicts(result)[0] == "invalid" and verdicts(result)[3] == "invalid"
    for a in result.answers:
        assert a.judgement.message.isprintable()


def test_control_characters_never_echoed_raw(tmp_path):
    answers = tmp_path / "answers.csv"
    answers.write_text('student,answer\n"\x1b[2Jeve","\x1b[31m3*x**2"\nbob,3*x**2\n', encoding="utf-8")
    task = tmp_path / "task.toml"
    task.write_text('[task]\nformula = "x**3"\nwrt = "x"\n[columns]\nid = "student"\nclaim = "answer"\n')
    out, page = tmp_path / "out.csv", tmp_path / "page.html"
    run = subprocess.run([sys.executable, "-m", "derivaudit", "grade", str(task), str(answers), "--workers", "1",
                          "--csv", str(out), "--html", str(page), "--json"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    for text in (out.read_text(), page.read_text(), run.stdout, run.stderr):
        assert "\x1b" not in text
    assert "\\x1b[2Jeve" in out.read_text() and "\\x1b[31m3*x**2" in page.read_text()
    document = json.loads(run.stdout)
    assert [r["verdict"] for r in document["rows"]] == ["invalid", "correct (proved)"]


def test_a_stalled_answer_is_stopped_alone(monkeypatch):
    """An answer past the hard limit kills only its own worker; the others are graded."""
    real = judge_module.judge

    def slow(task, texts):
        if texts == ("x**3",):
            time.sleep(600)
        return real(task, texts)

    monkeypatch.setattr(runner, "judge", slow)
    monkeypatch.setattr(runner, "hard_seconds", lambda task: 3.0)
    result = grade(CUBE, rows("3*x**2", "x**3", "2*x"), workers=2)
    assert verdicts(result) == ["correct (proved)", "undecided", "wrong"]
    assert "took longer than 3 s" in result.answers[1].judgement.message


def test_a_killed_worker_costs_only_its_answer(monkeypatch):
    real = judge_module.judge

    def deadly(task, texts):
        if texts == ("x**3",):
            os.kill(os.getpid(), signal.SIGKILL)
        return real(task, texts)

    monkeypatch.setattr(runner, "judge", deadly)
    result = grade(CUBE, rows("x**3", "3*x**2", "2*x"), workers=2)
    assert verdicts(result) == ["undecided", "correct (proved)", "wrong"]
    assert "died twice" in result.answers[0].judgement.message


# -- interrupted batches resume -------------------------------------------------------------------

def test_interrupted_batch_resumes_from_its_journal(tmp_path, monkeypatch):
    journal = tmp_path / "j.journal"
    claims = rows("3*x**2", "2*x", "x**3", "3*x**2", "-3*x**2", "6*x")

    def interrupt(done, total):
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        grade(CUBE, claims, workers=1, journal=journal, progress=interrupt)
    assert len(journal.read_text().splitlines()) == 1 + 2
    judged = []
    real = judge_module.judge
    monkeypatch.setattr(runner, "judge", lambda task, texts: judged.append(texts) or real(task, texts))
    result = grade(CUBE, claims, workers=1, journal=journal, resume=True)
    assert result.reused == 2 and len(judged) == 3
    assert verdicts(result) == ["correct (proved)", "wrong", "wrong", "correct (proved)", "wrong", "wrong"]


def test_journal_of_another_task_is_refused(tmp_path):
    journal = tmp_path / "j.journal"
    Journal(journal, "a" * 64).close()
    with pytest.raises(SpecError, match="another task"):
        grade(CUBE, rows("3*x**2"), workers=1, journal=journal, resume=True)


def _batch_under_way(tmp_path) -> tuple[list[str], subprocess.Popen, Path, Path]:
    """A ``grade`` of 39 answers in its own process, once 2 of them are in the journal: the
    command, the process, the CSV it is to write and its journal."""
    task = tmp_path / "task.toml"
    task.write_text('[task]\nformula = "x**3*sin(x)"\nwrt = "x"\n[columns]\nid = "s"\nclaim = "a"\n')
    answers = tmp_path / "answers.csv"
    answers.write_text("s,a\n" + "".join(f"s{k},{k}*x**2*sin(x) + x**3*cos(x)\n" for k in range(1, 40)))
    out = tmp_path / "out.csv"
    journal = Path(str(out) + ".journal")
    command = [sys.executable, "-m", "derivaudit", "grade", str(task), str(answers), "--workers", "1",
               "--csv", str(out), "-q"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        if journal.exists() and len(journal.read_text().splitlines()) >= 3:
            break
        time.sleep(0.02)
    return command, process, out, journal


def test_cli_interrupt_leaves_no_csv_and_resumes(tmp_path):
    """SIGINT mid-batch: exit 130, no CSV, a journal; --resume completes it and removes the journal."""
    command, process, out, journal = _batch_under_way(tmp_path)
    # a signal landing in a fork hook (the proof's worker process starting) is swallowed by Python
    # ("Exception ignored in _releaseLock"); the command sends it again, and pressing Ctrl-C
    # again, as a user would, changes nothing
    for _ in range(20):
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=3)
            break
        except subprocess.TimeoutExpired:
            continue
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert not out.exists() and journal.exists()
    done_before = len(journal.read_text().splitlines()) - 1
    assert 2 <= done_before < 39
    run = subprocess.run(command + ["--resume", "--json"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    document = json.loads(run.stdout)
    assert document["reused"] == done_before and document["submissions"] == 39
    assert out.exists() and not journal.exists()
    assert [r["verdict"] for r in csv.DictReader(io.StringIO(out.read_text()))][2] == "correct (proved)"


@pytest.mark.parametrize("second", [0.0, 0.001, 0.02, 0.1])
def test_cli_ctrl_c_again_while_it_cleans_up_changes_nothing(tmp_path, second):
    """A second SIGINT while the first one's cleanup runs (an impatient user; a busy machine
    where the cleanup is slow) is ignored: exit 130, one line, no CSV, the journal kept."""
    _, process, out, journal = _batch_under_way(tmp_path)
    process.send_signal(signal.SIGINT)
    time.sleep(second)
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert (process.returncode, err) == (130, "derivaudit: interrupted\n")
    assert not out.exists() and journal.exists()


# -- bad task files and CSVs: one line, exit 2 ----------------------------------------------------

BAD_TASKS = [
    ('[task]\nformula = "x**3"\nwrt = "x"\n', "[columns]: missing"),
    ('[task]\nformula = "x**3"\nwrt = "x"\ngrad = ["x"]\n[columns]\nid = "s"\nclaim = "a"\n', "exactly one of"),
    ('[task]\nformula = "x**3"\nhessian = ["x", "x"]\n[columns]\nid = "s"\nclaim = "a"\n',
     "[task] hessian: names a variable twice"),
    ('[task]\nformula = "x**3"\nwrt = "x"\ndomain = "x > 0"\n[columns]\nid = "s"\nclaim = "a"\n',
     "[task] domain: domains are not supported yet"),
    ('[task]\nformula = "x**3"\nwrt = "y"\n[columns]\nid = "s"\nclaim = "a"\n', "no variable 'y'"),
    ('[task]\nformula = "x**3"\nwrt = "x"\nseconds = -1\n[columns]\nid = "s"\nclaim = "a"\n', "[task] seconds"),
    ('[task]\nformula = "x**3"\nwrt = "x"\ncolour = 1\n[columns]\nid = "s"\nclaim = "a"\n', "[task] colour"),
    ('[task]\nformula = "x**"\nwrt = "x"\n[columns]\nid = "s"\nclaim = "a"\n', "[task] formula"),
    ('[task]\nformula = "x**3"\nwrt = "x"\n[columns]\nclaim = "a"\n', "no id"),
    ('[task]\nspec = "missing.toml"\n[columns]\nid = "s"\n', "[task] spec: cannot read"),
]


@pytest.mark.parametrize("text, message", BAD_TASKS)
def test_bad_task_is_one_line_exit_2(tmp_path, capsys, text, message):
    task = tmp_path / "task.toml"
    task.write_text(text)
    answers = tmp_path / "answers.csv"
    answers.write_text("s,a\nada,3*x**2\n")
    assert main(["grade", str(task), str(answers), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and str(task) in err


BAD_CSVS = [
    (b"student,reply\nada,3*x**2\n", "line 1, column 'answer': no such column"),
    (b"student,answer\nada,3*x**2,extra\n", "line 2: has 3 fields but the header has 2"),
    (b"student,answer\nada,3*x**2\n,2*x\n", "line 3, column 'student': empty id"),
    (b"student,answer\nada,3*x**2\nbob,\xff\n", "line 3: is not UTF-8"),
    (b"student,answer\nada,3*x\x00\n", "line 2: contains a NUL byte"),
    (b"student,answer\nada,\"3*x**2\n", "not valid CSV"),
    (b"", "is empty"),
]


@pytest.mark.parametrize("data, message", BAD_CSVS)
def test_bad_csv_is_one_line_naming_line_and_column(tmp_path, capsys, data, message):
    task = tmp_path / "task.toml"
    task.write_text('[task]\nformula = "x**3"\nwrt = "x"\n[columns]\nid = "student"\nclaim = "answer"\n')
    answers = tmp_path / "answers.csv"
    answers.write_bytes(data)
    assert main(["grade", str(task), str(answers), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err


def test_csv_blank_lines_bom_and_quoted_commas():
    task = task_from_dict({"task": {"formula": "x*y", "grad": ["x", "y"]}, "columns": {"id": "s", "claim": "a"}})
    subs = answers_from_text('\ufeffs,a\n\nada,"y, x"\n', task)
    assert subs == [Submission(3, "ada", ("y, x",))]
    result = grade(task, subs, workers=1)
    assert verdicts(result) == ["correct (proved)"]
    assert verdicts(grade(task, rows("y"), workers=1)) == ["invalid"]


def test_gradient_task_with_one_column_per_variable():
    task = task_from_dict({"task": {"formula": "x**2*y", "grad": ["x", "y"]},
                           "columns": {"id": "s", "x": "dx", "y": "dy"}})
    result = grade(task, [Submission(2, "a", ("2*x*y", "x**2")), Submission(3, "b", ("2*x*y", "x"))], workers=1)
    assert verdicts(result) == ["correct (proved)", "wrong"]
    assert result.answers[1].judgement.component == "df/dy"


# -- a backprop (spec) task -----------------------------------------------------------------------

def test_spec_task_claims_from_columns():
    result = grade(EXAMPLE / "backprop" / "task.toml", EXAMPLE / "backprop" / "answers.csv", workers=1)
    by_id = {a.id: a.judgement for a in result.answers}
    assert {k: j.verdict for k, j in by_id.items()} == {
        "ada": "correct (numerically)", "bo": "correct (numerically)", "cy": "wrong", "dee": "invalid",
        "eve": "wrong", "fin": "invalid"}
    assert "missing factor 1/4" in by_id["cy"].likely_mistake and by_id["cy"].component == "w"
    assert "sign is flipped" in by_id["eve"].likely_mistake
    assert "not allowed" in by_id["fin"].message
    # an answer with a claim that cannot be evaluated is invalid with that claim's line (issue 23)
    assert by_id["dee"].component == "w" and "[claims] w = 'dz@X/4': '@' of shapes (1, 4) and (2, 4)" in \
        by_id["dee"].message


def test_a_spec_task_whose_backward_pass_cannot_be_evaluated_is_one_line(tmp_path, capsys):
    spec = (EXAMPLE / "backprop" / "logistic.toml").read_text().replace('dz = "A - y"', 'dz = "A @ y"')
    (tmp_path / "logistic.toml").write_text(spec)
    task = tmp_path / "task.toml"
    task.write_text((EXAMPLE / "backprop" / "task.toml").read_text())
    answers = tmp_path / "answers.csv"
    answers.write_text("student,dw,db\nada,dz @ X.T / 4,mean(dz)\n")
    assert main(["grade", str(task), str(answers), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "[task] spec:" in err and "[backward] dz = 'A @ y': '@' of shapes" in err


# -- reports --------------------------------------------------------------------------------------

def test_reports_csv_html_json(example_class, tmp_path):
    from derivaudit.reports.files import write_csv, write_html
    from derivaudit.reports.json_doc import result_document

    write_csv(example_class, tmp_path / "out.csv")
    table = list(csv.DictReader(io.StringIO((tmp_path / "out.csv").read_text())))
    assert [r["id"] for r in table] == list(EXPECTED)
    assert list(table[0])[:6] == ["id", "verdict", "witness", "likely_mistake", "message", "seconds"]
    dev = table[3]
    assert dev["witness"] == "b=1/2, w=-1/2, x=3/4: claim = 0.531209373374, exact = 0.39840703003"
    assert dev["likely_mistake"].startswith("chain rule without the inner derivative")
    assert table[13]["message"].startswith("syntax error") and float(table[0]["seconds"]) >= 0
    page = write_html(example_class, tmp_path / "page.html").read_text()
    assert "Wrong: chain rule without the inner derivative" in page and "Worked counterexample" in page
    assert "Invalid answers" in page and "formula is empty" in page and "<svg" in page and "<math" in page
    assert "http://" not in page.replace("http://www.w3.org", "") and "<script" not in page
    document = result_document(example_class)
    assert document["kind"] == "grade" and document["counts"]["wrong"] == 10 and len(document["rows"]) == 21


def test_spreadsheet_formulas_are_quoted_and_notebooks_show_the_page(tmp_path):
    from derivaudit.reports.files import write_csv

    result = grade(CUBE, rows("=HYPERLINK(\"http://x\")", "-1+cmd|'/c calc'!A0", "-3*x**2"), workers=1)
    write_csv(result, tmp_path / "out.csv")
    table = list(csv.DictReader(io.StringIO((tmp_path / "out.csv").read_text())))
    assert [r["answer"] for r in table] == ["'=HYPERLINK(\"http://x\")", "'-1+cmd|'/c calc'!A0", "-3*x**2"]
    assert [r["verdict"] for r in table] == ["invalid", "invalid", "wrong"]
    assert "derivaudit-report" in result._repr_html_() and "sign flipped" in result._repr_html_()


# -- domains as typed (issue 22): an answer is judged as typed, not as sympy rewrote it ----------

def test_a_rewritten_domain_is_not_shared_with_the_plain_answer():
    """``2*exp(log(x))`` parses to the same sympy tree as ``2*x`` but is undefined for x ≤ 0,
    where the derivative of x**2 is defined: wrong, as ``check`` says, whatever answer came first."""
    square = task_from_dict({"task": {"formula": "x**2", "wrt": "x", "seconds": 20},
                             "columns": {"id": "student", "claim": "answer"}})
    judge_module.clear_caches()
    result = grade(square, rows("2*x", "2*exp(log(x))", "2*sqrt(x)**2/x*x"), workers=1)
    assert verdicts(result) == ["correct (proved)", "wrong", "wrong"]
    assert str(da.check("x**2", wrt="x", claim="2*exp(log(x))").verdict) == "wrong"


def test_a_formula_typed_with_a_domain_keeps_it():
    """The task's formula as typed: sqrt(x)**2 is x only for x ≥ 0, so the claim 1 is right there
    and nothing outside it is a witness."""
    task = task_from_dict({"task": {"formula": "sqrt(x)**2", "wrt": "x", "seconds": 20},
                           "columns": {"id": "student", "claim": "answer"}})
    judge_module.clear_caches()
    result = grade(task, rows("1"), workers=1)
    assert verdicts(result) == [str(da.check("sqrt(x)**2", wrt="x", claim="1").verdict)]


# -- Hessian tasks (issue 24 landed): an answer is the matrix "row; row" -----------------------

def test_hessian_answers_are_judged_as_check_judges_them():
    task = task_from_dict({"task": {"formula": "x**3*y + exp(x*y)", "hessian": ["x", "y"], "seconds": 60},
                           "columns": {"id": "student", "claim": "answer"}})
    right = ("6*x*y + y**2*exp(x*y), 3*x**2 + (1 + x*y)*exp(x*y); "
             "3*x**2 + (1 + x*y)*exp(x*y), x**2*exp(x*y)")
    wrong = right.replace("(1 + x*y)*exp(x*y)", "x*y*exp(x*y)")
    judge_module.clear_caches()
    result = grade(task, rows(right, wrong, "6*x*y, 3*x**2"), workers=1)
    assert verdicts(result) == ["correct (proved)", "wrong", "invalid"]
    assert task.question == "the Hessian in (x, y) of x**3*y + exp(x*y)"
    assert result.answers[1].judgement.point  # the certified counterexample is reported
    assert "rows" in result.answers[2].judgement.message or "row" in result.answers[2].judgement.message
