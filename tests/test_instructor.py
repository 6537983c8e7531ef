"""Instructor material: the timing plans add up to the minutes the sources declare, fit their days, pause only between
lessons and mark what they leave out; prerequisites come earlier; the SIZE comments state the measured times."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from lrnn_course import build, course, instructor
from lrnn_course.checks import EXERCISES

ROOT = build.repo_root()
PLANS = instructor.lesson_plans(ROOT)
SOURCES = sorted((ROOT / "sources").glob("[0-9K]*.py"))
# Read independently of lrnn_course.instructor: the header line of each source's instructor cell.
HEADER = re.compile(r'^# %% \[markdown\] tags=\["instructor"\] minutes=(\{[^}]*\}) needs=(\[[^]]*\])$', re.MULTILINE)
HEADERS = {path.stem: HEADER.search(path.read_text(encoding="utf-8")) for path in SOURCES}
DECLARED = {stem: json.loads(header.group(1)) for stem, header in HEADERS.items()}
NEEDS = {stem: json.loads(header.group(2)) for stem, header in HEADERS.items()}
# The benchmark's rows, as `lrnn-course run` writes them: | 05_counting_mod_m.ipynb | ok | 5.8 | ...
MEASURED = {
    match.group(1): float(match.group(2))
    for match in re.finditer(
        r"^\| (\w+)\.ipynb \| [^|]+ \| ([0-9.]+) \|",
        (ROOT / "benchmarks" / "results" / "course-cpu-small.md").read_text(encoding="utf-8"),
        re.MULTILINE,
    )
}


def slots_of(workshop: instructor.Workshop) -> list[instructor.Slot]:
    return instructor.schedule(PLANS, workshop)


def test_every_source_declares_its_minutes():
    # Enforces CONTRIBUTING.md#rule-instructor-minutes
    assert all(HEADERS.values()), [stem for stem, header in HEADERS.items() if not header]
    assert sorted(DECLARED) == [plan.stem for plan in PLANS]
    for plan in PLANS:
        assert (plan.teach, plan.practice) == (DECLARED[plan.stem]["teach"], DECLARED[plan.stem]["practice"])
        assert list(plan.needs) == NEEDS[plan.stem]


def test_every_lesson_needs_only_lessons_before_it_in_course_order():
    # Enforces CONTRIBUTING.md#rule-instructor-minutes
    order = [path.stem[:2] for path in SOURCES]  # course order: 01 … 09, then K1 … K4
    for stem, needs in NEEDS.items():
        assert all(need in order[: order.index(stem[:2])] for need in needs), f"{stem} needs {needs}"
    # the references the issue found: Lesson 04 builds on 02 (Mamba's gates), 07 on 05 (the rotation)
    assert "02" in NEEDS["04_negative_eigenvalues"] and "05" in NEEDS["07_products_of_householders"]


def copy_of_sources(tmp_path, edits: dict[str, tuple[str, str]]):
    """The first three sources in ``tmp_path/sources``, with ``edits[stem] = (old, new)`` applied."""
    (tmp_path / "sources").mkdir()
    for path in SOURCES[:3]:
        text = path.read_text(encoding="utf-8")
        old, new = edits.get(path.stem, ("", ""))
        assert old in text
        (tmp_path / "sources" / path.name).write_text(text.replace(old, new, 1), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    "needs, message",
    [
        ('["03"]', r"02_selective_ssms needs 03 \(comes later\): .* before it in course order \(01\)"),
        ('["02"]', r"02_selective_ssms needs 02 \(comes later\)"),  # itself
        ('["01", "99"]', r"02_selective_ssms needs 99 \(no such lesson\)"),
    ],
)
def test_a_need_that_comes_later_or_does_not_exist_is_refused(tmp_path, needs, message):
    # Enforces CONTRIBUTING.md#rule-instructor-minutes
    root = copy_of_sources(tmp_path, {"02_selective_ssms": ('needs=["01"]', f"needs={needs}")})
    with pytest.raises(ValueError, match=message):
        instructor.lesson_plans(root)


def test_a_lesson_without_needs_is_refused(tmp_path):
    root = copy_of_sources(tmp_path, {"03_parity_barrier": (' needs=["01"]', "")})
    with pytest.raises(ValueError, match=r"03_parity_barrier.py: .* \(needs=\[\] for none\), not None"):
        instructor.lesson_plans(root)


@pytest.mark.parametrize("workshop", instructor.WORKSHOPS, ids=lambda w: w.name)
def test_each_plan_teaches_every_lesson_for_exactly_its_declared_minutes(workshop):
    # Enforces CONTRIBUTING.md#rule-timing-plan
    slots = slots_of(workshop)
    taught: dict[str, int] = {}
    for slot in slots:
        if slot.lesson:
            taught[slot.lesson] = taught.get(slot.lesson, 0) + slot.minutes
    expected = {
        stem: minutes["teach"] + minutes["practice"]
        for stem, minutes in DECLARED.items()
        if not workshop.lessons or stem.startswith(workshop.lessons)
    }
    assert taught == expected


@pytest.mark.parametrize("workshop", instructor.WORKSHOPS, ids=lambda w: w.name)
def test_each_day_runs_from_nine_to_at_most_five_without_gaps_with_lunch_and_breaks(workshop):
    # Enforces CONTRIBUTING.md#rule-timing-plan
    slots = slots_of(workshop)
    days = sorted({slot.day for slot in slots})
    assert 1 <= len(days) <= workshop.days
    # Lessons start only at boundaries at most a lesson and a break apart: lunch comes at the nearest to 12:15.
    lunch_within = (max(plan.minutes for plan in PLANS) + instructor.BREAK_MINUTES) / 2
    for day in days:
        today = [slot for slot in slots if slot.day == day]
        assert today[0].start == 9 * 60 and today[-1].end <= 17 * 60
        assert all(earlier.end == later.start for earlier, later in zip(today, today[1:]))
        afternoon = any(slot.lesson and slot.start >= 12 * 60 for slot in today)
        lunches = [slot for slot in today if slot.activity == "Lunch"]
        assert len(lunches) == int(afternoon)
        assert all(abs(lunch.start - instructor.LUNCH_TARGET) <= lunch_within for lunch in lunches)
        last_pause_end = today[0].end  # the opening teaches nothing
        for slot in today:
            if slot.activity in ("Lunch", "Break"):
                last_pause_end = slot.end
            elif slot.lesson:
                assert slot.end - last_pause_end <= instructor.BREAK_EVERY, f"no break before {slot.activity}"
        lessons_today = [slot.lesson for slot in today if slot.lesson]
        assert all(lessons_today.count(stem) == 2 for stem in lessons_today), "a lesson never straddles two days"


@pytest.mark.parametrize("workshop", instructor.WORKSHOPS, ids=lambda w: w.name)
def test_no_break_splits_a_lesson(workshop):
    # Enforces CONTRIBUTING.md#rule-timing-plan
    slots = slots_of(workshop)
    for plan in instructor.chosen(PLANS, workshop):
        teach, exercises = (index for index, slot in enumerate(slots) if slot.lesson == plan.stem)
        assert exercises == teach + 1, f"{slots[teach + 1].activity} splits {plan.title}"
        assert slots[teach].activity.startswith(f"{plan.title}: teach")
        assert slots[exercises].activity == f"{plan.title}: exercises"
        assert slots[teach].end == slots[exercises].start


def test_a_lesson_longer_than_a_stretch_between_breaks_is_refused():
    # Enforces CONTRIBUTING.md#rule-timing-plan
    long = dataclasses.replace(PLANS[0], teach=instructor.BREAK_EVERY - 10, practice=11)
    with pytest.raises(ValueError, match=f"{long.stem} \\(91 min\\) longer than 90 minutes: .* split the lesson"):
        instructor.schedule([long, *PLANS[1:]], instructor.WORKSHOPS[0])


@pytest.mark.parametrize("workshop", instructor.WORKSHOPS, ids=lambda w: w.name)
def test_a_plan_marks_each_lesson_whose_prerequisite_it_leaves_out(workshop):
    # Enforces CONTRIBUTING.md#rule-timing-plan
    taught = [plan for plan in PLANS if not workshop.lessons or plan.stem.startswith(workshop.lessons)]
    ids = {plan.stem[:2] for plan in taught}
    teaching = {slot.lesson: slot.activity for slot in slots_of(workshop) if slot.activity.endswith(")")}
    for plan in taught:
        left_out = [need for need in NEEDS[plan.stem] if need not in ids]
        row = teaching.get(plan.stem, f"{plan.title}: teach")
        assert row == f"{plan.title}: teach" + (f" (needs {' and '.join(left_out)})" if left_out else "")


def test_the_one_day_plan_marks_04_and_07_and_names_what_it_leaves_out():
    one_day = next(w for w in instructor.WORKSHOPS if w.name == "1-day")
    assert instructor.missing_needs(PLANS, one_day) == {
        "04_negative_eigenvalues": ("02",),
        "07_products_of_householders": ("05",),
    }
    page = (ROOT / "instructor" / "timing.md").read_text(encoding="utf-8")
    one_day_part = page[page.index("## 1-day") : page.index("## 3-day")]
    assert "Not taught here but needed: 02 · Selective state-space models (Mamba), 05 · Counting mod m" in one_day_part
    assert "| 04 · Negative eigenvalues, trained: teach (needs 02) |" in one_day_part


def test_the_three_day_workshop_teaches_every_lesson_in_order():
    # Enforces CONTRIBUTING.md#rule-timing-plan
    slots = slots_of(next(w for w in instructor.WORKSHOPS if w.name == "3-day"))
    order = list(dict.fromkeys(slot.lesson for slot in slots if slot.lesson))
    assert order == [plan.stem for plan in PLANS]


def test_a_workshop_too_short_for_its_lessons_is_refused():
    with pytest.raises(ValueError, match="needs [0-9]+ days"):
        instructor.schedule(PLANS, instructor.Workshop("everything in a day", 1, ()))


def test_the_timing_page_lists_the_declared_minutes_and_totals():
    # Enforces CONTRIBUTING.md#rule-timing-plan
    page = (ROOT / "instructor" / "timing.md").read_text(encoding="utf-8")
    for plan in PLANS:
        minutes, needs = DECLARED[plan.stem], ", ".join(NEEDS[plan.stem]) or "–"
        assert (
            f"| {plan.title} | {needs} | {minutes['teach']} | {minutes['practice']} | "
            f"{minutes['teach'] + minutes['practice']} |" in page
        )
    total = sum(m["teach"] + m["practice"] for m in DECLARED.values())
    assert f"| {total} |" in page


def test_every_exercise_has_its_common_mistakes_and_its_check_rows_in_the_guide():
    # Enforces CONTRIBUTING.md#rule-common-mistakes
    for plan in PLANS:
        guide = (ROOT / "instructor" / "lessons" / f"{plan.stem}.md").read_text(encoding="utf-8")
        assert "## Talking points" in guide and "## Common mistakes" in guide
        needed = [other.title for other in PLANS if other.stem[:2] in NEEDS[plan.stem]]
        assert f"Needs: {', '.join(needed) or 'none'}." in guide
        for exercise in plan.exercises:
            assert f"**`{exercise}`**" in plan.notes, f"{plan.stem}: no common mistakes for {exercise}"
            assert all(f"“{case.name}”" in guide for case in EXERCISES[exercise].cases)


def test_a_source_without_an_instructor_cell_or_with_bad_minutes_is_refused(tmp_path):
    # Enforces CONTRIBUTING.md#rule-instructor-minutes
    source = ROOT / "sources" / "01_diagonal_scans.py"
    text = source.read_text(encoding="utf-8")
    header = HEADER.search(text).group(0)
    missing = tmp_path / "01_missing.py"
    missing.write_text(text.replace(header, '# %% [markdown] tags=["lesson"]'), encoding="utf-8")
    with pytest.raises(ValueError, match="exactly one markdown cell tagged 'instructor'"):
        instructor.lesson_plan(missing)
    bad = tmp_path / "01_bad.py"
    bad.write_text(text.replace(header, '# %% [markdown] tags=["instructor"] minutes={"teach": 30}'), encoding="utf-8")
    with pytest.raises(ValueError, match="must declare minutes"):
        instructor.lesson_plan(bad)


def test_the_generated_files_match_the_sources():
    # Enforces CONTRIBUTING.md#rule-generated-notebooks
    assert build.instructor_material(ROOT, check_only=True) == []
    assert {path.relative_to(ROOT).as_posix() for path in instructor.instructor_files(ROOT)} == {
        "instructor/timing.md",
        *(f"instructor/lessons/{plan.stem}.md" for plan in PLANS),
    }


def test_measured_times_are_read_from_the_table_lrnn_course_run_writes(tmp_path):
    # Enforces CONTRIBUTING.md#rule-measured-size
    runs = [course.Run("05_counting_mod_m.ipynb", 5.84, 1.2, 11, 2, 2), course.Run("K1_x.ipynb", 130.0, 9.0, 3, 1, 1)]
    table = tmp_path / instructor.COURSE_TIMES
    table.parent.mkdir(parents=True)
    table.write_text(course.summary(runs, "small", "auto") + "\nA note | with a bar.\n", encoding="utf-8")
    assert instructor.measured_seconds(tmp_path) == {"05_counting_mod_m": 5.8, "K1_x": 130.0}
    assert instructor.measured_seconds(tmp_path / "elsewhere") == {}


@pytest.mark.parametrize(
    "seconds, words",
    [(5.8, "under 10 s"), (21.6, "about 20 s"), (35.9, "about 35 s"), (68.1, "about 70 s"), (143, "about 2 minutes")],
)
def test_a_measured_time_in_words(seconds, words):
    assert instructor.duration_words(seconds) == words


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: path.stem)
def test_each_lesson_states_its_measured_time_at_small(source):
    # Enforces CONTRIBUTING.md#rule-measured-size
    size_lines = re.findall(r'^SIZE = "small"  # "small": .*$', source.read_text(encoding="utf-8"), re.MULTILINE)
    assert len(size_lines) == 1 and instructor.MEASURED_TIME in size_lines[0], "one lesson SIZE comment, the marker"
    assert not re.search(r"\bminutes?\b|\bseconds\b|\d+ s\b", size_lines[0]), "no duration typed by hand"
    lesson = build.render(source, "lesson")
    parameters = next(cell for cell in lesson.cells if "parameters" in cell.metadata.get("tags", []))
    # A new lesson has no row until its first `lrnn-course run`; test_every_lesson_has_a_measured_time covers ours.
    said = (
        f"{instructor.duration_words(MEASURED[source.stem])} on a 2-core CPU"
        if source.stem in MEASURED
        else "not measured yet (benchmarks/results/course-cpu-small.md has no row for it)"
    )
    assert size_lines[0].replace(instructor.MEASURED_TIME, said) in parameters.source.splitlines()
    guide = (ROOT / "instructor" / "lessons" / f"{source.stem}.md").read_text(encoding="utf-8")
    assert f'Its run at `SIZE="small"`: {said}.' in guide


def test_every_lesson_has_a_measured_time():
    assert sorted(MEASURED) == [path.stem for path in SOURCES]
    assert instructor.measured_seconds(ROOT) == MEASURED


def test_a_lesson_not_measured_yet_says_so(tmp_path):
    # Enforces CONTRIBUTING.md#rule-measured-size
    (tmp_path / "sources").mkdir()
    source = tmp_path / "sources" / "10_new.py"
    assert instructor.measured_time_phrase(source) == (
        "not measured yet (benchmarks/results/course-cpu-small.md has no row for it)"
    )
