"""The ``derivaudit`` command line: a thin layer over the library API.

Exit codes (:class:`derivaudit.verdicts.ExitCode`): 0 every claim correct,
1 a claim is wrong, 2 bad input (one line on stderr, no traceback;
``--debug`` shows it; an audit's invalid claim gets its line after every
verdict is printed), 3 an internal error, 4 undecided.  A closed output
pipe (``derivaudit study ... | head``) ends quietly with 141, as other Unix
tools do; Ctrl-C ends with 130 and SIGTERM with 143, after removing any
half-written report.

The library is imported inside each subcommand's run function, so
``derivaudit --version`` and ``--help`` start without sympy, pandas or
matplotlib.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import threading
import traceback
from collections.abc import Sequence

from derivaudit import __version__
from derivaudit.echo import escape_controls
from derivaudit.errors import DerivauditError
from derivaudit.limits import DEFAULT_LIMITS
from derivaudit.progress import terminal_progress
from derivaudit.verdicts import ORDER_TOLERANCE, ExitCode

EXIT_OK, EXIT_WRONG, EXIT_BAD_INPUT, EXIT_INTERNAL = ExitCode.OK, ExitCode.WRONG, ExitCode.BAD_INPUT, ExitCode.INTERNAL
#: exit statuses of a shell for a process ended by SIGINT, SIGPIPE, SIGTERM
EXIT_INTERRUPTED, EXIT_BROKEN_PIPE, EXIT_TERMINATED = 130, 141, 143

#: a token starting with a minus that is not an option: a formula or claim such as ``-x**2``
_VALUE_WITH_MINUS = re.compile(r"^-(?!-)(?![hq]+$)")


def _mark_values(argv: Sequence[str]) -> list[str]:
    """Prefix values that start with a minus (``-x**2``, ``--claim "-sin(x)"``) with a space.

    argparse reads a token with a space in it as a value, never as an
    option (as it reads negative numbers); :func:`_unmark_values` removes
    the space again after parsing.
    """
    marked, options_done = [], False
    for token in argv:
        if token == "--":
            options_done = True
        elif not options_done and _VALUE_WITH_MINUS.match(token):
            token = " " + token
        marked.append(token)
    return marked


def _unmark(value):
    if isinstance(value, str) and value.startswith(" -"):
        return value[1:]
    if isinstance(value, list):
        return [_unmark(v) for v in value]
    return value


def _unmark_values(args: argparse.Namespace) -> argparse.Namespace:
    return argparse.Namespace(**{name: _unmark(value) for name, value in vars(args).items()})


class _ArgumentParser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line and exit code 2."""

    def error(self, message):
        raise _UsageError(f"{message} (see '{self.prog} --help')")


class _UsageError(Exception):
    pass


class _Terminated(BaseException):
    """SIGTERM, raised like Ctrl-C so that half-written reports are removed."""


def _terminate(signum, frame):
    _stop_listening()
    raise _Terminated()


def _interrupt(signum, frame):
    """Ctrl-C: stop the command (KeyboardInterrupt, as Python's own handler does) and
    ignore every later Ctrl-C or SIGTERM, which would otherwise land in the cleanup of the
    first (a half-removed report, a traceback, death by signal instead of exit 130)."""
    _stop_listening()
    raise KeyboardInterrupt


def _stop_listening() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _listen() -> None:
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _interrupt)


_PYTHON_UNRAISABLE_HOOK = sys.unraisablehook


def _unraisable(unraisable) -> None:
    """Where Python swallows an exception (a callback, a fork hook: "Exception ignored
    in ..."), an interrupt it swallowed is sent again, to land in the command's own code."""
    stopped = unraisable.exc_type
    if stopped is KeyboardInterrupt or stopped is _Terminated:
        _listen()
        # sent from another thread, a moment later: raised in this hook it would be swallowed too
        again = threading.Timer(0.01, os.kill, (os.getpid(),
                                                signal.SIGINT if stopped is KeyboardInterrupt else signal.SIGTERM))
        again.daemon = True
        again.start()
        return
    _PYTHON_UNRAISABLE_HOOK(unraisable)


def parse_assignments(pairs: Sequence[str]) -> dict[str, str]:
    """The ``--at`` point: ``NAME=VALUE`` items, separated by spaces or commas.

    Parameters
    ----------
    pairs : sequence of str
        The words after ``--at``.

    Returns
    -------
    dict of str to str
        Values stay text, read exactly later (``0.1`` is 1/10).

    Raises
    ------
    DerivauditError
        For an item without ``=`` or a name given twice.

    Examples
    --------
    >>> parse_assignments(["x=1", "y=2,z=3"])
    {'x': '1', 'y': '2', 'z': '3'}
    """
    values: dict[str, str] = {}
    for pair in pairs:
        for item in pair.split(","):
            item = item.strip()
            if not item:
                continue
            name, sep, value = item.partition("=")
            name, value = name.strip(), value.strip()
            if not sep or not name or not value:
                raise DerivauditError(f"--at expects NAME=VALUE, got {item!r}")
            if name in values:
                raise DerivauditError(f"--at gives {name} twice")
            values[name] = value
    return values


def _digits_argument(text: str) -> int:
    """``--digits``: a whole number from 1 to ``Limits.max_dps`` (printing more costs time, not accuracy)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text[:40]!r}") from None
    if not 1 <= value <= DEFAULT_LIMITS.max_dps:
        raise argparse.ArgumentTypeError(f"must be between 1 and {DEFAULT_LIMITS.max_dps}, not {value}")
    return value


def _one_line(message: object) -> str:
    """``message`` on one line with control characters escaped: user text is echoed
    in error messages, and must not add lines or drive the terminal."""
    return escape_controls(message)


class _EscapedStream:
    """stdout with control characters escaped on their way out (newlines and tabs kept):
    every echo of user text, whatever prints it, reaches the terminal inert."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(escape_controls(text, keep_layout=True))

    def flush(self) -> None:
        self._stream.flush()

    def fileno(self) -> int:
        return self._stream.fileno()

    def isatty(self) -> bool:
        return self._stream.isatty()

    @property
    def encoding(self) -> str:
        return self._stream.encoding


def _split_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quiet", "-q", action="store_true", help="print nothing but errors")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")


def _add_study(sub) -> None:
    p = sub.add_parser("study", help="sweep finite-difference schemes over step sizes",
                       description="Measure how finite-difference approximations of a derivative "
                                   "converge to the exact value as the step ε shrinks.")
    p.add_argument("formula", help='the function, e.g. "theta**3" or "log(1+exp(w*x+b))"')
    p.add_argument("--wrt", help="variable to differentiate by (optional with one variable)")
    p.add_argument("--at", nargs="+", default=[], metavar="NAME=VALUE",
                   help="the point, e.g. --at x=1 y=0.5 (values are exact: 0.1 is 1/10)")
    p.add_argument("--eps",
                   help="steps: a list 0.1,0.01 or a log range START:STOP:COUNT "
                        "(default 1e-1 … 1e-8)")
    p.add_argument("--schemes",
                   help="comma-separated: forward, backward, centered, centered4, forward2, ..., "
                        "richardson-<scheme> (e.g. richardson-centered), complex-step "
                        "(default forward,centered; none when --stencil is given)")
    p.add_argument("--stencil", action="append", default=[], metavar="OFFSETS:WEIGHTS",
                   help="your own scheme for the --order derivative, repeatable: offsets and exact "
                        "weights, optionally named, e.g. --stencil=-1,0,1:-1/2,0,1/2 or "
                        "--stencil=mine=0,1,2:-3/2,2,-1/2; its weights are judged by their "
                        "Taylor moments (exit 1 when they do not approximate the derivative)")
    p.add_argument("--claim-order", type=int, metavar="N",
                   help="the order you claim for your stencils (every scheme without --stencil); "
                        f"exit 1 when the fitted order differs by more than {ORDER_TOLERANCE}")
    p.add_argument("--order", type=int, default=1, help="derivative order (default 1)")
    p.add_argument("--dps", type=int, default=50,
                   help="significant digits of the arbitrary-precision run (default 50)")
    p.add_argument("--float64", action="store_true",
                   help="evaluate the stencils in IEEE doubles, to see roundoff")
    p.add_argument("--digits", type=_digits_argument, default=20, help="digits printed per number (default 20)")
    _add_reports(p, "the table, every digit kept (a folder path: table + summary)")
    _add_common(p)
    p.set_defaults(run=_run_study)


def _run_study(args) -> int:
    from derivaudit.core.custom_stencils import schemes_from_text
    from derivaudit.studies.inputs import DEFAULT_STEPS
    from derivaudit.studies.sweep import study

    wrt = _split_list(args.wrt) if args.wrt and "," in args.wrt else args.wrt  # x,y: a mixed partial
    schemes = schemes_from_text(args.schemes, args.stencil, args.order)
    result = study(args.formula, wrt=wrt, at=parse_assignments(args.at), eps=args.eps or DEFAULT_STEPS,
                   schemes=schemes, order=args.order, dps=args.dps,
                   precision="float64" if args.float64 else "mp",
                   progress=terminal_progress(args.quiet), claimed_order=args.claim_order)
    return _finish(result, args, digits=args.digits)


def _add_check(sub) -> None:
    p = sub.add_parser("check", help="audit a hand-derived derivative or gradient",
                       description="Decide whether a claimed derivative is right: proved, "
                                   "numerically equal, wrong with a certified counterexample (the likely "
                                   "mistake and the finite-difference evidence), or undecided and why. "
                                   "Exit 0 when every claim is correct, 1 when one is wrong, 4 when "
                                   "one is undecided, 2 on bad input.")
    p.add_argument("formula", help='the function, e.g. "log(1+exp(w*x+b))"')
    target = p.add_mutually_exclusive_group()
    target.add_argument("--wrt", help="variable of the derivative (optional with one variable)")
    target.add_argument("--grad", metavar="VARS",
                        help="audit a gradient: comma-separated variables, e.g. --grad x,y")
    target.add_argument("--hessian", metavar="VARS",
                        help='audit a Hessian in these variables, e.g. --hessian x,y --claim "2*y, 2*x; 2*x, 0"')
    p.add_argument("--claim", required=True, metavar="TEXT",
                   help='the hand-derived derivative; for a gradient one component per variable, '
                        'separated by commas: "2*x*y, x**2"; for a Hessian rows separated by ";"')
    p.add_argument("--order", type=int, default=1, help="derivative order (default 1)")
    p.add_argument("--at", nargs="+", default=[], metavar="NAME=VALUE",
                   help="a point to examine (evidence table there; kinks detected)")
    p.add_argument("--dps", type=int, default=50,
                   help="digits to which claim and exact derivative must agree (default 50)")
    p.add_argument("--digits", type=_digits_argument, default=12, help="digits printed per number (default 12)")
    _add_reports(p, "the verdicts and evidence (a folder path: one CSV per table + summary)")
    _add_common(p)
    p.set_defaults(run=_run_check)


def _run_check(args) -> int:
    from derivaudit.checks.check import check

    result = check(args.formula, wrt=args.wrt, claim=args.claim, order=args.order, grad=args.grad,
                   hessian=args.hessian, at=parse_assignments(args.at) or None, dps=args.dps)
    return _finish(result, args, digits=args.digits)


def _add_parallel(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=int, metavar="N",
                        help="worker processes (default: one per core; 1 runs in this process)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="run on this Dask scheduler instead, e.g. tcp://host:8786 "
                             "(needs pip install 'derivaudit[dask]')")


def _check_parallel(args) -> None:
    if args.workers is not None and args.scheduler:
        raise DerivauditError("give --workers or --scheduler, not both")


def _add_sweep(sub) -> None:
    p = sub.add_parser("sweep", help="run the convergence studies listed in a TOML file, in parallel",
                       description="Run many convergence studies (formulas × points) from a TOML "
                                   "sweep file on all cores, or on a Dask cluster.")
    p.add_argument("file", help="sweep file: [defaults] and one [[study]] table per formula")
    _add_parallel(p)
    _add_reports(p, "every study's table as one long table (a folder path: sweep + summary)")
    _add_common(p)
    p.set_defaults(run=_run_sweep)


def _run_sweep(args) -> int:
    from derivaudit.studies.parallel import load_sweep, study_many
    from derivaudit.studies.result import SweepResult

    _check_parallel(args)
    tasks = load_sweep(args.file)
    studies = study_many(tasks, workers=args.workers, client=args.scheduler,
                         progress=terminal_progress(args.quiet))
    result = SweepResult(tuple(studies), source=str(args.file))
    return _finish(result, args)


def _add_audit(sub) -> None:
    p = sub.add_parser("audit", help="audit the hand-derived backprop gradients of a TOML spec",
                       description="Check every claimed gradient of a model spec (TOML: shapes, "
                                   "params, forward, backward, claims) against the exact gradient "
                                   "of its loss, with finite-difference evidence. Exit 0 when every "
                                   "claim is correct, 1 when one is wrong, 2 on a bad spec or when "
                                   "a claim cannot be read (invalid; the others are still judged).")
    p.add_argument("spec", help="the spec, e.g. examples/mlp_2layer.toml")
    p.add_argument("--dps", type=int, help="digits of the comparisons and the study (default: the "
                                           "spec's [audit] dps, else 50)")
    p.add_argument("--seed", type=int, help="seed of the random points (default: the spec's, else 0)")
    p.add_argument("--points", type=int, help="random points per claim (default: the spec's, else 3)")
    _add_reports(p, "the verdicts and evidence (a folder path: one CSV per table + summary)")
    _add_common(p)
    p.set_defaults(run=_run_audit)


def _run_audit(args) -> int:
    from derivaudit.audits.audit import audit

    result = audit(args.spec, dps=args.dps, seed=args.seed, points=args.points,
                   progress=terminal_progress(args.quiet))
    # 0 all correct, 1 a claim wrong, 4 none wrong but one undecided, 2 a claim invalid
    code = _finish(result, args)
    for message in result.errors:  # a malformed formula: its line, as a bad spec gets, after every verdict
        _fail(f"derivaudit: error: {message}", code)
    return code


def _add_grade(sub) -> None:
    p = sub.add_parser("grade", help="grade a class's answers from a CSV against a task file",
                       description="Judge every submission of ANSWERS.csv (one row per student) against "
                                   "the task in TASK.toml with the verdicts of check (or audit for a "
                                   "backprop spec): identical answers are judged once, each under its own "
                                   "budget. Exit 0 when the batch ran, 2 for a bad task file or CSV.")
    p.add_argument("task", help="the task file (TOML): [task] formula, wrt / grad / spec; [columns]")
    p.add_argument("answers", help="the answers (CSV with a header row)")
    _add_parallel(p)
    p.add_argument("--journal", metavar="FILE",
                   help="record each judged answer in FILE as it is judged (default with --csv: "
                        "OUT.csv.journal, removed once the reports are written)")
    p.add_argument("--resume", action="store_true",
                   help="reuse the answers already judged in the journal of an interrupted run")
    _add_reports(p, "one row per submission: id, verdict, witness, likely_mistake, message, seconds")
    _add_common(p)
    p.set_defaults(run=_run_grade)


def _run_grade(args) -> int:
    from derivaudit.grading.grade import grade
    from derivaudit.grading.journal import discard, journal_path

    _check_parallel(args)
    journal = args.journal or (journal_path(args.csv) if args.csv else None)
    if args.resume and journal is None:
        raise DerivauditError("--resume reads the journal of an earlier run: give its --csv or --journal")
    result = grade(args.task, args.answers, workers=args.workers, client=args.scheduler, journal=journal,
                   resume=args.resume, progress=terminal_progress(args.quiet))
    _write_reports(result, args)
    if journal is not None and not args.journal:
        discard(journal)  # the reports are written: the default journal has done its job
    if not args.quiet:
        print(result.summary())
        _print_written(args)
    return int(result.exit_code)


def _add_reports(parser: argparse.ArgumentParser, csv_content: str) -> None:
    parser.add_argument("--csv", metavar="FILE", help=f"write a CSV report: {csv_content}")
    parser.add_argument("--html", metavar="FILE", help="write a self-contained HTML report with plots")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON document instead of the text (numbers as strings with all "
                             "their digits; schema in docs/reports.md)")


def _finish(result, args, **summary_options) -> int:
    """Write the reports asked for, print the summary (unless --quiet) and give the exit code."""
    _write_reports(result, args)
    if not args.quiet:
        print(result.summary(**summary_options))
        _print_written(args)
    return int(result.exit_code)


def _write_reports(result, args) -> None:
    """Write the --csv and --html reports a command asked for; print the --json document."""
    from derivaudit.reports.files import write_csv, write_html

    if args.csv:
        write_csv(result, args.csv)
    if args.html:
        write_html(result, args.html)
    if args.json:
        from derivaudit.reports.json_doc import json_text

        sys.stdout.write(json_text(result))


def _print_written(args) -> None:
    written = [path for path in (args.csv, args.html) if path]
    if written:
        print("\n" + "\n".join(f"wrote {path}" for path in written))


def build_parser() -> argparse.ArgumentParser:
    """The ``derivaudit`` argument parser: one subcommand per product (study, check, sweep, audit, grade).

    Returns
    -------
    argparse.ArgumentParser
        Each subcommand's namespace carries ``run``, the function that runs it.
    """
    parser = _ArgumentParser(prog="derivaudit",
                             description="Audit hand-derived derivatives and measure how finite "
                                         "differences converge to them.")
    parser.add_argument("--version", action="version", version=f"derivaudit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_ArgumentParser)
    sub.required = True
    _add_study(sub)
    _add_check(sub)
    _add_sweep(sub)
    _add_audit(sub)
    _add_grade(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit code (:class:`derivaudit.verdicts.ExitCode`, or 130, 141, 143
        for an interrupt, a closed pipe, SIGTERM); the console script exits with it.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        args = _unmark_values(build_parser().parse_args(_mark_values(argv)))
        if vars(args).get("json"):
            args.quiet = True  # stdout carries the JSON document alone (its strings are escaped already)
            return int(args.run(args))
        stdout, sys.stdout = sys.stdout, _EscapedStream(sys.stdout)
        try:
            return int(args.run(args))
        finally:
            sys.stdout = stdout
    except _UsageError as exc:
        return _fail(f"derivaudit: error: {exc}", EXIT_BAD_INPUT)
    except DerivauditError as exc:
        if debug:
            traceback.print_exc()
        return _fail(f"derivaudit: error: {exc}", EXIT_BAD_INPUT)
    except BrokenPipeError:
        return _closed_pipe()
    except KeyboardInterrupt:
        return _fail("derivaudit: interrupted", EXIT_INTERRUPTED)
    except _Terminated:
        return _fail("derivaudit: terminated", EXIT_TERMINATED)
    except Exception as exc:  # a bug in derivaudit, not in the input
        if debug:
            traceback.print_exc()
        return _fail(f"derivaudit: internal error: {type(exc).__name__}: {exc} "
                     "(rerun with --debug for details and report it)", EXIT_INTERNAL)


def _fail(message: str, code: int) -> int:
    try:
        print(_one_line(message), file=sys.stderr)
    except (BrokenPipeError, ValueError):
        pass
    return code


def _closed_pipe() -> int:
    """The reader of stdout went away: stop quietly, as ``yes | head`` does."""
    # Python would report the failed flush of stdout at exit; point stdout at nothing instead
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
    finally:
        os.close(devnull)
    return EXIT_BROKEN_PIPE


def console_main() -> None:
    """Entry point of the ``derivaudit`` script: SIGTERM cleans up like Ctrl-C, then exits;
    once either has come, the cleanup runs to its end whatever else is pressed."""
    _listen()
    sys.unraisablehook = _unraisable
    sys.exit(main())


if __name__ == "__main__":
    console_main()
