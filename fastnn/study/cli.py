"""The ``fastnn study`` subcommand: argument parsing and the exit status.

``add_parser(subparsers)`` adds ``study init|batchnorm|all [--quick] [--out DIR]
[--seeds K] [--data ...] [--download]`` to an ``argparse`` subparsers object;
``run(args)`` runs it and returns the exit status.  ``python -m fastnn.study``
uses the same two functions.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_parser", "run", "main"]


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _claim_list(text: str) -> tuple[int, ...]:
    try:
        numbers = tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected claim numbers like 1,5,14, got {text!r}"
        ) from None
    if not numbers or any(n < 1 or n > 14 for n in numbers):
        raise argparse.ArgumentTypeError(f"claim numbers are 1 to 14, got {text!r}")
    return numbers


def _configure(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument(
        "group",
        choices=("init", "batchnorm", "all"),
        help="the initialization claims (1-6, 14), the BatchNorm claims (7-13), or all",
    )
    parser.add_argument(
        "--quick", action="store_true", help="the quick scale (about 2 minutes on 2 cores)"
    )
    parser.add_argument("--out", default="study", help="output directory (default: ./study)")
    parser.add_argument(
        "--seeds",
        type=_positive_int,
        default=None,
        help="seeds of the multi-seed claims (default: 1 with --quick, 3 or more in full)",
    )
    parser.add_argument(
        "--data",
        default="auto",
        help="auto (MNIST files already on disk, else scikit-learn's digits, else synthetic), "
        "mnist, digits, synthetic, or a directory of MNIST IDX files",
    )
    parser.add_argument(
        "--download",
        action="store_true",
        help="with --data mnist: download the MNIST test set into the cache if absent",
    )
    parser.add_argument(
        "--claims", type=_claim_list, default=None, help="only these claims, e.g. 1,5,14"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)
    return parser


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``study`` subcommand to ``subparsers`` (from ``parser.add_subparsers()``)."""
    parser = subparsers.add_parser(
        "study",
        help="measure, plot and report the claims about initialization and BatchNorm",
        description="Run the study's experiments and write DIR/report.md and DIR/*.png.",
    )
    return _configure(parser)


def run(args: argparse.Namespace) -> int:
    """Run ``fastnn study`` with parsed ``args``; 0 on success, 2 on a data or setup error."""
    from fastnn.study.report import run_study

    try:
        outcome = run_study(
            args.group,
            quick=args.quick,
            out=args.out,
            seeds=args.seeds,
            data=args.data,
            download=args.download,
            progress=not args.no_progress,
            claims=args.claims,
        )
    except (ValueError, ImportError, ConnectionError, FileNotFoundError) as err:
        print(f"fastnn study: error: {err}", file=sys.stderr)
        return 2
    for number, (holds, _rule) in sorted(outcome["verdicts"].items()):
        print(f"claim {number:2d}: {'holds' if holds else 'does not hold at this scale'}")
    print(f"report: {outcome['report']}")
    if outcome["meta"]["figure_error"]:
        print(f"note: {outcome['meta']['figure_error']}", file=sys.stderr)
    return 0


def main(argv=None) -> int:
    """``python -m fastnn.study ...``: the same options as ``fastnn study``."""
    parser = _configure(argparse.ArgumentParser(prog="python -m fastnn.study"))
    args = parser.parse_args(argv)
    return args.func(args)
