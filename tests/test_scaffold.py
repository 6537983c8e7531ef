"""``lrnn-course new-lesson``: what it refuses, what it writes, and that the lesson it writes passes every lesson rule.

The last test is the expensive one (a minute or two on 2 cores, marked ``notebooks``): in a copy of the checkout it
writes a new lesson, builds it and runs every test that cites a rule of CONTRIBUTING.md, restricted to the new lesson
where the test is parametrised over lessons, with the checks ``make test`` runs outside pytest.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from test_contributing import MAKEFILE, rule_citations

from lrnn_course import build, cli, instructor, scaffold
from lrnn_course.scaffold import NewLesson, ScaffoldRefused, next_steps, planned_lesson, write_lesson

ROOT = build.repo_root()
# The first free lesson number, and a slug no lesson would take: the test keeps working once Lesson 10 exists.
NUMBER = next(f"{n:02d}" for n in range(10, 100) if not any((ROOT / "sources").glob(f"{n:02d}_*.py")))
SLUG = "scaffolded_demo"
STEM = f"{NUMBER}_{SLUG}"
NBVAL = ["--nbval-lax", "--nbval-current-env", "--nbval-sanitize-with", "nbval.cfg"]


def empty_checkout(root: Path) -> Path:
    """The folders a lesson is written into, and nothing else."""
    for folder in ("sources", "lrnn_course/checks", "tests"):
        (root / folder).mkdir(parents=True)
    return root


def ruff(*arguments: str, stdin: str = "") -> subprocess.CompletedProcess:
    """ruff run in the checkout, so that pyproject.toml's settings (and its per-file rules) apply."""
    command = [sys.executable, "-m", "ruff", *arguments]
    return subprocess.run(command, cwd=ROOT, input=stdin, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    "number, slug, title, message",
    [
        ("1", "demo", None, "two digits from 01 to 99"),
        ("00", "demo", None, "two digits from 01 to 99"),
        ("K5", "demo", None, "written by hand"),
        ("10", "Demo", None, "lower-case Python name"),
        ("10", "2demo", None, "lower-case Python name"),
        ("10", "class", None, "not a keyword"),
        ("10", "d" * (scaffold.MAX_SLUG + 1), None, f"at most {scaffold.MAX_SLUG}"),
        ("10", "check", None, "lrnn_course.check exists already"),
        ("10", "demo", "Sums *with* markup", "it holds *"),
        ("10", "demo", "x" * (scaffold.MAX_TITLE + 1), f"it has {scaffold.MAX_TITLE + 1} characters"),
    ],
)
def test_bad_numbers_slugs_and_titles_are_refused_with_the_reason(tmp_path, number, slug, title, message):
    root = empty_checkout(tmp_path)
    with pytest.raises(ScaffoldRefused, match=message.replace("*", r"\*")):
        write_lesson(root, number, slug, title)
    assert not any(path.is_file() for path in root.rglob("*")), "a refused lesson writes nothing"


def test_a_taken_number_or_module_is_refused():
    with pytest.raises(ScaffoldRefused, match=r"lesson 01 exists already: sources/01_diagonal_scans\.py"):
        planned_lesson(ROOT, "01", "demo")
    with pytest.raises(ScaffoldRefused, match="lrnn_course.scan exists already"):
        planned_lesson(ROOT, NUMBER, "scan")


def test_an_existing_file_is_never_overwritten_and_then_nothing_is_written(tmp_path):
    root = empty_checkout(tmp_path)
    taken = root / "tests" / f"test_mutants_{NUMBER}.py"
    taken.write_text("# someone's work\n", encoding="utf-8")
    with pytest.raises(ScaffoldRefused, match=f"refusing to overwrite tests/test_mutants_{NUMBER}.py"):
        write_lesson(root, NUMBER, SLUG)
    assert [path for path in root.rglob("*") if path.is_file()] == [taken]
    assert taken.read_text(encoding="utf-8") == "# someone's work\n"


def test_the_command_writes_the_five_files_and_prints_the_next_steps(tmp_path, monkeypatch, capsys):
    root = empty_checkout(tmp_path)
    monkeypatch.setattr(build, "repo_root", lambda: root)
    assert cli.main(["new-lesson", "10", "gated_sums", "--title", "Gated sums"]) == 0
    printed = capsys.readouterr().out
    written = sorted(path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file())
    assert written == [
        "lrnn_course/checks/lesson10.py",
        "lrnn_course/gated_sums.py",
        "sources/10_gated_sums.py",
        "tests/test_gated_sums.py",
        "tests/test_mutants_10.py",
    ]
    assert all(f"wrote {root / name}" in printed for name in written)
    assert "lrnn-course build 10" in printed and "README.md's lesson map" in printed
    assert "# # 10 · Gated sums" in (root / "sources" / "10_gated_sums.py").read_text(encoding="utf-8")
    assert cli.main(["new-lesson", "10", "gated_sums"]) == 2
    assert "lesson 10 exists already" in capsys.readouterr().err


def test_every_file_of_the_longest_lesson_name_passes_ruff():
    lesson = NewLesson("99", "s" * scaffold.MAX_SLUG, "T" * scaffold.MAX_TITLE)
    for path, text in lesson.files(ROOT).items():
        name = path.relative_to(ROOT).as_posix()
        assert "{{" not in text, f"{name}: a template field was left unfilled"
        checked = ruff("check", "--stdin-filename", name, "-", stdin=text)
        assert checked.returncode == 0, f"{name}:\n{checked.stdout}{checked.stderr}"
        formatted = ruff("format", "--check", "--stdin-filename", name, "-", stdin=text)
        assert formatted.returncode == 0, f"{name} is not formatted as ruff formats it:\n{formatted.stderr}"


def test_the_files_the_next_steps_name_exist():
    steps = next_steps(NewLesson(NUMBER, SLUG, "Demo"))
    for name in ("README.md", "lrnn_course/instructor.py", "benchmarks/results/course-cpu-small.md", "CHANGELOG.md"):
        assert name in steps and (ROOT / name).is_file(), name
    assert "WORKSHOPS" in steps and instructor.WORKSHOPS


# ---------------------------------------------------------------------------------------------- in a copy


def copy_of_checkout(target: Path) -> Path:
    """The files git tracks, and the new ones it does not ignore, copied as they are in the working tree."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_symlink() or source.is_file():  # a file deleted in the working tree stays deleted
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name, follow_symlinks=False)
    return target


def grant_a_workshop_day(copy: Path) -> None:
    """Give the copy's 3-day workshop a fourth day. Since Lesson 11 its third day ends at 17:00, so any new lesson
    overflows it: where the next lesson goes (a fourth day, or a lesson left out of the plan) is its author's
    decision, not the scaffold's, and every other rule is still checked on the copy."""
    module = copy / "lrnn_course" / "instructor.py"
    source = module.read_text()
    assert source.count('Workshop("3-day", 3, ())') == 1, "the 3-day workshop changed: update this test"
    module.write_text(source.replace('Workshop("3-day", 3, ())', 'Workshop("3-day", 4, ())'))


def run_in(copy: Path, *arguments: str, timeout: int = 600) -> str:
    """``python ARGUMENTS`` in the copy, with the copy's lrnn_course first on the path; its output, or a failure."""
    environment = {**os.environ, "PYTHONPATH": str(copy), "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    done = subprocess.run(
        [sys.executable, *arguments], cwd=copy, env=environment, capture_output=True, text=True, timeout=timeout
    )
    command = " ".join(arguments)
    assert done.returncode == 0, f"python {command[:200]} failed:\n{done.stdout[-6000:]}\n{done.stderr[-6000:]}"
    return done.stdout


def lesson_rule_tests(copy: Path) -> list[str]:
    """The node ids of every test that cites a rule of CONTRIBUTING.md; of one parametrised over lessons, the new one's.

    A test parametrised over something else (the workshops) runs whole, as does one that looks at every lesson at once.
    """
    citing = sorted({citation.enforcer for citation in rule_citations(copy) if citation.enforcer != MAKEFILE})
    collected = run_in(copy, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *citing)
    by_test = defaultdict(list)
    for node in (line for line in collected.splitlines() if "::" in line):
        by_test[node.split("[")[0]].append(node)
    chosen = []
    for nodes in by_test.values():
        parameters = {node: node.partition("[")[2] for node in nodes}
        mine = [node for node, ids in parameters.items() if STEM in ids or ids.startswith(f"{NUMBER}.")]
        chosen += mine or nodes
    return chosen


@pytest.mark.notebooks
@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs a git checkout")
def test_a_new_lesson_passes_every_lesson_rule_once_built(tmp_path):
    copy = copy_of_checkout(tmp_path / "checkout")
    grant_a_workshop_day(copy)
    run_in(copy, "-m", "lrnn_course", "new-lesson", NUMBER, SLUG)
    run_in(copy, "-m", "lrnn_course", "build", NUMBER)
    run_in(copy, "-m", "lrnn_course", "build", "--check", NUMBER)
    # The rules `make test` checks outside pytest, on the new files: the others are the suite's own business.
    made = {citation.rule for citation in rule_citations(copy) if citation.enforcer == MAKEFILE}
    assert made == {"rule-nbval-outputs", "rule-formatting", "rule-layers"}, "a new make-test rule: check it here"
    written = [path.relative_to(copy).as_posix() for path in NewLesson(NUMBER, SLUG, "Demo").files(copy)]
    run_in(copy, "-m", "ruff", "format", "--check", *written)
    run_in(copy, "-m", "ruff", "check", *written)
    assert ", 0 broken." in run_in(copy, str(Path(sys.executable).with_name("lint-imports")))
    tests = lesson_rule_tests(copy)
    assert any(STEM in node for node in tests) and any(f"[{NUMBER}." in node for node in tests)
    own = [f"tests/test_{SLUG}.py", f"tests/test_mutants_{NUMBER}.py", f"lessons/{STEM}.ipynb"]
    run_in(copy, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", *tests, *own, *NBVAL)
