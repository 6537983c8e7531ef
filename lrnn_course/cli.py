"""The ``lrnn-course`` command: ``doctor``, ``fetch``, ``check``, ``progress``, ``reveal``, ``build``, ``new-lesson``,
``slides``, ``site``, ``run``, ``experiment``.

Glossary: EXERCISE = an exercise id such as ``01.sequential_scan``; FILE = a Python file that
defines the exercise's function under the same name as the library's solution.
"""

from __future__ import annotations

import argparse
import runpy
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

# where `lrnn-course fetch KIND` puts the notebooks by default: solutions replace the exercises (with --force)
DEFAULT_FETCH_FOLDER = {"exercises": "lrnn-exercises", "solutions": "lrnn-exercises", "lessons": "lrnn-lessons"}


def run_doctor(args: argparse.Namespace) -> int:
    from .doctor import doctor

    return doctor(report=args.report)


def file_problem(path: Path) -> str | None:
    """Why ``lrnn-course check`` cannot load ``path`` (missing, a folder, a notebook, not .py), or None."""
    wanted = "give the .py file that defines your function"
    if path.is_dir():
        return f"{path} is a folder: {wanted}"
    if not path.exists():
        return f"no such file: {path}; {wanted}"
    if path.suffix == ".ipynb":
        return (
            f"{path} is a notebook: `lrnn-course check` takes the .py file that defines your function "
            f"(`lrnn-course progress {path.parent}` checks every exercise in a folder of notebooks)"
        )
    if path.suffix != ".py":
        return f"{path} is not a .py file: save your function in a file ending in .py and give that"
    return None


def run_check(args: argparse.Namespace) -> int:
    from .build import solution_function
    from .checker import DEFAULT_TIMEOUT_S, exit_call
    from .isolation import run_isolated
    from .workshop import time_limit

    try:
        name = solution_function(args.exercise).__name__
    except KeyError as error:
        print(error.args[0], file=sys.stderr)
        return 2
    timeout = args.timeout or DEFAULT_TIMEOUT_S
    path = Path(args.file)
    problem = file_problem(path)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    try:
        with time_limit(timeout):
            namespace = runpy.run_path(str(path), run_name="__lrnn_course_check__")
    except SystemExit as error:  # exit() at the top of the file must not pass for a green check
        print(
            f"{path} called {exit_call(error)} while loading; define your function and leave the rest to the check",
            file=sys.stderr,
        )
        return 1
    except Exception as error:  # the learner's file itself fails to load (TimeoutError included): report, don't crash
        print(f"{path} could not be loaded: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    if name not in namespace:
        print(f"{path} defines no function named {name}", file=sys.stderr)
        return 1
    result = run_isolated(args.exercise, namespace[name], timeout)
    print(result.report(hint=args.hint, ask_for_hint=f"lrnn-course check {args.exercise} {path} --hint {{level}}"))
    return 0 if result else 1


def run_fetch(args: argparse.Namespace) -> int:
    from .workshop import RevealDisabled, fetch

    folder = args.folder or DEFAULT_FETCH_FOLDER[args.kind]
    try:
        report = fetch(args.kind, Path(folder), force=args.force)
    except (RevealDisabled, FileNotFoundError) as error:
        print(error, file=sys.stderr)
        return 3
    for name, action in report:
        print(f"{name}: {action}")
    print(f"{args.kind} are in {Path(folder).resolve()}; open them with `jupyter lab {folder}`")
    return 0


def run_progress(args: argparse.Namespace) -> int:
    from .checker import DEFAULT_TIMEOUT_S
    from .workshop import folder_progress, progress_table

    def show(notebook: str, exercise: str, index: int, total: int) -> None:
        # a line per exercise on stderr, so a long check is never silent (and stdout keeps only the table)
        end = "\r" if sys.stderr.isatty() else "\n"
        print(
            f"\x1b[2K[{index}/{total}] checking {exercise} ({notebook}) …"
            if end == "\r"
            else f"[{index}/{total}] checking {exercise} ({notebook})",
            end=end,
            file=sys.stderr,
            flush=True,
        )

    try:
        progress = folder_progress(Path(args.folder), timeout=args.timeout or DEFAULT_TIMEOUT_S, on_start=show)
    except ModuleNotFoundError as error:  # the notebooks run in a kernel: nbclient and ipykernel
        return cannot_start("progress", error)
    except FileNotFoundError as error:
        print(error, file=sys.stderr)
        return 2
    print(progress_table(progress, colour=sys.stdout.isatty()))
    return 0 if all(entry.passed for entry in progress) else 1


def run_reveal(args: argparse.Namespace) -> int:
    from .workshop import RevealDisabled, reveal

    try:
        print(reveal(args.exercise))
    except RevealDisabled as error:
        print(error, file=sys.stderr)
        return 3
    except KeyError as error:
        print(error.args[0], file=sys.stderr)
        return 2
    return 0


def run_build(args: argparse.Namespace) -> int:
    from .build import NotACheckout, build

    try:
        report = build(args.names, check_only=args.check, execute_lessons=not args.no_execute)
    except NotACheckout as error:
        print(error, file=sys.stderr)
        return 2
    except FileNotFoundError as error:  # no lesson of that name
        return cannot_start("build", error)
    if args.check:
        for problem in report:
            print(problem, file=sys.stderr)
        if report:
            print(
                "The notebooks are out of date: run `make notebooks` (lrnn-course build) and commit.", file=sys.stderr
            )
        else:
            print("All notebooks match their sources.")
        return 1 if report else 0
    for path in report:
        print(f"wrote {path}")
    return 0


def run_new_lesson(args: argparse.Namespace) -> int:
    from .build import NotACheckout, repo_root
    from .scaffold import ScaffoldRefused, next_steps, write_lesson

    try:
        lesson, written = write_lesson(repo_root(), args.number, args.slug, args.title)
    except (NotACheckout, ScaffoldRefused) as error:
        print(error, file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    print(next_steps(lesson), end="")
    return 0


def cannot_start(command: str, error: Exception) -> int:
    """Say what ``lrnn-course <command>`` needs (a package, a lesson notebook) instead of a traceback; exit code 2."""
    if isinstance(error, ModuleNotFoundError):
        print(
            f"`lrnn-course {command}` needs the package {error.name}, which is not installed: pip install {error.name}",
            file=sys.stderr,
        )
    else:
        print(f"`lrnn-course {command}`: {error}", file=sys.stderr)
    return 2


def run_slides(args: argparse.Namespace) -> int:
    from .web_assets import AssetUnavailable  # the standard library only: bound before anything below can raise

    try:
        from .slides import build_slides

        decks = build_slides(args.names, Path(args.out) if args.out else None)
    # no nbconvert; no lesson of that name; reveal.js or MathJax neither in the cache nor from the registry
    except (ModuleNotFoundError, FileNotFoundError, AssetUnavailable) as error:
        return cannot_start("slides", error)
    for deck in decks:
        print(f"wrote {deck}")
    return 0


def run_site(args: argparse.Namespace) -> int:
    from .web_assets import AssetUnavailable  # the standard library only: bound before anything below can raise

    try:
        from .site import LAB_URL, build_site

        written = build_site(args.names, Path(args.out) if args.out else None, args.lab_url or LAB_URL)
    # no nbconvert; no lesson of that name; no MathJax in the cache nor from the registry; a --lab-url that is no URL
    except (ModuleNotFoundError, FileNotFoundError, AssetUnavailable, ValueError) as error:
        return cannot_start("site", error)
    pages = len(written) - 1  # the lesson map comes first
    print(f"wrote {pages} lesson page{'s' if pages != 1 else ''}; open {written[0]}")
    return 0


def run_lessons(args: argparse.Namespace) -> int:
    try:
        import nbclient  # noqa: F401 (only `run` needs it: the `notebooks` extra, not the package's dependencies)

        from .build import lesson_notebooks
        from .course import run_course, summary

        lesson_notebooks(args.names)  # no lesson of that name: said before anything runs
    except (ModuleNotFoundError, FileNotFoundError) as error:
        return cannot_start("run", error)
    out_dir = Path(args.out) if args.out else None
    runs = run_course(tuple(args.names), size=args.size, device=args.device, out_dir=out_dir, jobs=args.jobs)
    print(summary(runs, args.size, args.device), end="")
    return 0 if all(run.passed for run in runs) else 1


def stop_on_terminate(signal_number: int, frame) -> None:
    """SIGTERM (``timeout``, a job scheduler) as an exception: cleanup runs, so side-by-side workers stop too."""
    raise SystemExit(128 + signal_number)


def run_language_experiment(args: argparse.Namespace, changes: dict, command: str) -> int:
    """``lrnn-course experiment lm``: Lesson 11's byte-level language models (one process, no resume)."""
    from .language import read_lm_record, record_stem, run_lm_experiment

    if args.jobs != 1 or args.resume:
        print("experiment lm trains its runs one after another: --jobs and --resume do not apply", file=sys.stderr)
        return 2
    run_lm_experiment(
        args.size, args.seeds, args.device, Path(args.out), progress=not args.quiet, command=command, **changes
    )
    stem = record_stem(args.out, args.size)
    print(read_lm_record(stem.with_suffix(".json"))[0]["summary"])
    print(f"wrote {stem}.json and .png")
    return 0


def run_experiment(args: argparse.Namespace) -> int:
    from .experiments import record_stem
    from .experiments import run_experiment as run
    from .language import LANGUAGE_EXPERIMENT
    from .train import data_parallel_rank, results_table

    signal.signal(signal.SIGTERM, stop_on_terminate)

    changes = {"steps": args.steps} if args.steps is not None else {}
    command = "lrnn-course experiment " + " ".join(args.argv)
    if args.name == LANGUAGE_EXPERIMENT:
        return run_language_experiment(args, changes, command)
    results = run(
        args.name,
        args.size,
        args.seeds,
        args.device,
        Path(args.out),
        progress=not args.quiet,
        command=command,
        jobs=args.jobs,
        resume=args.resume,
        **changes,
    )
    if data_parallel_rank()[0] == 0:
        print(results_table(results))
        print(f"wrote {record_stem(args.out, args.name, args.size)}.json and .png")
    return 0


def parser() -> argparse.ArgumentParser:
    main_parser = argparse.ArgumentParser(prog="lrnn-course", description="The lrnn-course command line.")
    commands = main_parser.add_subparsers(dest="command", required=True)

    doctor = commands.add_parser("doctor", help="report versions, device and Triton mode; run a smoke kernel")
    doctor.add_argument(
        "--report",
        action="store_true",
        help=(
            "also the machine, JupyterLab's widgets, the exercises and a timed check, fenced to paste before a workshop"
        ),
    )
    doctor.set_defaults(run=run_doctor)

    fetch = commands.add_parser(
        "fetch", help="copy this version's exercise (or solution, or lesson) notebooks into a folder"
    )
    fetch.add_argument(
        "kind",
        choices=tuple(DEFAULT_FETCH_FOLDER),
        help="exercises to complete, the solved notebooks, or the executed lessons (answers folded)",
    )
    fetch.add_argument(
        "folder", nargs="?", help="where to put them (default ./lrnn-exercises; for lessons ./lrnn-lessons)"
    )
    fetch.add_argument(
        "--force", action="store_true", help="replace notebooks that differ from the shipped ones (your edits!)"
    )
    fetch.set_defaults(run=run_fetch)

    progress = commands.add_parser("progress", help="check every exercise in a folder of notebooks; a table per lesson")
    progress.add_argument(
        "folder", nargs="?", default="lrnn-exercises", help="the folder `fetch` wrote (default ./lrnn-exercises)"
    )
    progress.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="seconds each exercise's check (and each notebook's cells) may take (default: check()'s, 60)",
    )
    progress.set_defaults(run=run_progress)

    reveal = commands.add_parser(
        "reveal", help="print the reference solution of an exercise (LRNN_COURSE_NO_REVEAL=1 disables it)"
    )
    reveal.add_argument("exercise", help="exercise id, e.g. 01.sequential_scan")
    reveal.set_defaults(run=run_reveal)

    check = commands.add_parser("check", help="check your solution of an exercise, saved in a .py file")
    check.add_argument("exercise", help="exercise id, e.g. 01.sequential_scan")
    check.add_argument("file", help="a .py file defining the function")
    check.add_argument("--hint", type=int, default=0, help="how many hints to show for the row that names the mistake")
    check.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="seconds the check may take before it is stopped (default: check()'s, 60)",
    )
    check.set_defaults(run=run_check)

    build = commands.add_parser("build", help="generate lessons/, exercises/ and solutions/ from sources/")
    build.add_argument("names", nargs="*", help="only sources whose name starts with these (e.g. 01)")
    build.add_argument("--check", action="store_true", help="compare instead of writing; exit 1 on drift")
    build.add_argument("--no-execute", action="store_true", help="write lessons without running them")
    build.set_defaults(run=run_build)

    new_lesson = commands.add_parser(
        "new-lesson", help="write a new numbered lesson that passes the tests at once (see CONTRIBUTING.md)"
    )
    new_lesson.add_argument("number", help="two digits, e.g. 10")
    new_lesson.add_argument("slug", help="a lower-case Python name for its files and module, e.g. gated_sums")
    new_lesson.add_argument("--title", help="the lesson's title (default: the slug in words)")
    new_lesson.set_defaults(run=run_new_lesson)

    slides = commands.add_parser(
        "slides",
        help="build an offline reveal.js deck of every lesson into build/slides/ (reveal.js, MathJax in _assets/)",
    )
    slides.add_argument("names", nargs="*", help="only lessons whose name starts with these (e.g. 01 K1)")
    slides.add_argument("--out", help="folder for the decks and their _assets/ (default build/slides)")
    slides.set_defaults(run=run_slides)

    site = commands.add_parser("site", help="build the course site (lesson map, a page per lesson) into build/site/")
    site.add_argument("names", nargs="*", help="only lessons whose name starts with these (e.g. 01 K1)")
    site.add_argument("--out", help="folder for the site (default build/site)")
    site.add_argument(
        "--lab-url",
        help="the JupyterLab file tree each page's 'open in JupyterLab' link starts from, before lessons/NN_name.ipynb "
        "(default: make lab's, http://127.0.0.1:8888/lab/tree/)",
    )
    site.set_defaults(run=run_site)

    run = commands.add_parser("run", help="execute the lessons headless (one kernel each) and write a summary")
    run.add_argument("names", nargs="*", help="only lessons whose name starts with these (e.g. 01 K1)")
    run.add_argument("--size", choices=("small", "full"), default="small")
    run.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    run.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="training runs at once, one process each, in the lessons that train several (default 1)",
    )
    run.add_argument("--out", help="folder for the executed notebooks and summary.md (default build/course)")
    run.set_defaults(run=run_lessons)

    from .experiments import EXPERIMENTS
    from .language import LANGUAGE_EXPERIMENT  # Lesson 11's language models, beside EXPERIMENTS

    experiment = commands.add_parser(
        "experiment",
        help="train every variant of a Lesson 08 experiment, or Lesson 11's language models (lm); writes JSON "
        "and a plot (torchrun: data parallel)",
    )
    experiment.add_argument("name", choices=sorted([*EXPERIMENTS, LANGUAGE_EXPERIMENT]), help="which experiment")
    experiment.add_argument("--size", choices=("small", "full"), default="small")
    experiment.add_argument("--seeds", type=int, default=1, help="seeds 0 .. N-1 (default 1)")
    experiment.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    experiment.add_argument("--steps", type=int, help="override the number of training steps (smoke tests)")
    experiment.add_argument("--out", default="build/experiments", help="folder for NAME-SIZE.json and .png")
    experiment.add_argument("--jobs", type=int, default=1, help="runs trained at once, one process each (default 1)")
    experiment.add_argument(
        "--resume",
        action="store_true",
        help="keep the runs already in --out whose settings (all but the device) are unchanged; train only the others",
    )
    experiment.add_argument("--quiet", action="store_true", help="no progress bars")
    experiment.set_defaults(run=run_experiment)
    return main_parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser().parse_args(argv)
    args.argv = argv[1:]
    return args.run(args)


if __name__ == "__main__":
    raise SystemExit(main())
