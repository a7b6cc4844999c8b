"""``microgrid sweep SITE... --scenarios FILE --year 2026``: annual studies over scenarios and sites on Dask.

Writes ``results.parquet``, ``results.csv``, ``summary.html`` and one row file per scenario (``rows/``) into
``--out``; a rerun with the same ``--out`` computes only what is missing (docs/sweeps.md). Exit codes: 0 every
scenario planned; 2 bad scenario file, site or argument (before anything runs); 3 some scenarios failed or
had fallback days (their rows say why); 4 the Dask scheduler cannot be reached; 130 interrupted (rerun to
resume).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from microgrid.cli import tr
from microgrid.cli import validators as valid
from microgrid.cli.study import _year
from microgrid.errors import UserError
from microgrid.i18n import current_lang, t


def _months(text: str) -> tuple[int, int]:
    first, _, last = text.partition("-")
    try:
        span = (int(first), int(last or first))
    except ValueError:
        span = (0, 0)
    if not 1 <= span[0] <= span[1] <= 12:
        raise valid.refuse("uerr.arg_months", text=text)
    return span


def _scheduler(text: str) -> str:
    if text in ("local", "in-process") or text.startswith(("tcp://", "tls://", "inproc://", "ws://", "wss://")):
        return text
    raise valid.refuse("uerr.arg_scheduler", text=text)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sweep", description=tr("desc.sweep"))
    parser.add_argument("sites", nargs="+", metavar="SITE", help=tr("help.sweep.sites"))
    parser.add_argument("--scenarios", required=True, type=Path, metavar="FILE",
                        help=tr("help.sweep.scenarios"))
    parser.add_argument("--year", type=_year, required=True, help=tr("help.study.year"))
    parser.add_argument("--resolution", type=valid.step_minutes, metavar="MIN",
                        help=tr("help.sweep.resolution"))
    parser.add_argument("--months", type=_months, metavar="M[-M]",
                        help=tr("help.sweep.months"))
    parser.add_argument("--seed", type=int, help=tr("help.study.seed"))
    parser.add_argument("--time-limit", type=valid.bounded(0.1, 3600, "time in seconds"), metavar="S",
                        help=tr("help.sweep.time-limit"))
    parser.add_argument("--scheduler", metavar="ADDRESS", type=_scheduler,
                        help=tr("help.sweep.scheduler"))
    parser.add_argument("--workers", type=valid.integer(1, 512, "a number of workers"), metavar="N",
                        help=tr("help.sweep.workers"))
    parser.add_argument("--out", type=Path, help=tr("help.sweep.out"))
    parser.add_argument("--retry-failed", action="store_true", help=tr("help.sweep.retry-failed"))
    parser.add_argument("--quiet", action="store_true", help=tr("help.sweep.quiet"))
    parser.set_defaults(func=run)


def _about(args: argparse.Namespace, outcome, n_cases: int) -> list[tuple[str, str]]:
    return [("scenario file", str(args.scenarios)), ("sites", ", ".join(args.sites)), ("year", str(args.year)),
            ("months", "whole year" if args.months is None else f"{args.months[0]}-{args.months[1]}"),
            ("resolution", f"{args.resolution} min" if args.resolution else "each site's resolution"),
            ("cases", f"{n_cases} (computed now {len(outcome.computed)}, reused {len(outcome.reused)})"),
            ("executor", outcome.executor), ("wall time", f"{outcome.wall_s:.1f} s"),
            ("weather", "typical-year generator per site location" + (f" (seed {args.seed})" if args.seed else ""))]


def run(args: argparse.Namespace) -> int:
    from microgrid.sweep.runner import RunSettings, run_sweep, scheduler_address
    from microgrid.sweep.scenarios import SiteSource, cases, read_scenarios
    from microgrid.sweep.summary import write_outputs
    from microgrid.sweep.task import case_error

    scheduler = scheduler_address(args.scheduler)
    scenarios = read_scenarios(args.scenarios)
    sources = [SiteSource.read(s) for s in args.sites]
    todo = cases(sources, scenarios, str(args.scenarios))
    out = args.out or Path("studies") / f"sweep-{args.scenarios.stem}-{args.year}"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError.of("uerr.out_unwritable", path=str(out), reason=str(exc.strerror or exc)) from None
    settings = RunSettings(args.year, args.resolution, args.months, args.seed, args.time_limit)
    lang = current_lang()
    say = (lambda _msg: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))

    def started(what: str, dashboard: str | None) -> None:
        say(t("sweep.running", lang, n=len(todo), executor=what)
            + (t("sweep.dashboard", lang, url=dashboard) if dashboard else ""))

    def row_done(row: dict, done: int, total: int) -> None:
        figures = (t("sweep.figures", lang, green=f"{row['green_ratio_pct']:.2f}", cost=f"{row['cost_total_cny']:,.0f}")
                   if row.get("cost_total_cny") is not None else case_error(row, lang))
        say(t("sweep.row", lang, done=done, total=total, key=row["key"], status=t(f"sweep.status.{row['status']}", lang),
              figures=figures,
              seconds=f"{row.get('task_s') or 0:.1f}"))

    try:
        outcome = run_sweep(todo, settings, out, scheduler=scheduler, workers=args.workers,
                            retry_failed=args.retry_failed, on_row=row_done, on_start=started)
    except KeyboardInterrupt:
        print(t("sweep.interrupted", lang, rows=str(out / "rows")), file=sys.stderr)
        return 130
    if outcome.reused:
        say(t("sweep.reused", lang, n=len(outcome.reused), rows=str(out / "rows")))
    paths, frame = write_outputs(out, outcome.keys, _about(args, outcome, len(todo)))
    bad = frame[frame["status"] != "ok"]
    print(t("sweep.summary", lang, n=len(frame), ok=int((frame["status"] == "ok").sum()), bad=len(bad),
            computed=len(outcome.computed), reused=len(outcome.reused), seconds=f"{outcome.wall_s:.1f}"))
    print(t("cli.wrote", lang, paths=", ".join(str(p) for p in paths.values())))
    for _, row in bad.iterrows():
        print(t("cli.error", lang, message=t("sweep.case_error", lang, key=row["key"], error=case_error(row, lang))),
              file=sys.stderr)
    return 3 if len(bad) else 0
