"""Instructor material: the timing plans add up to the minutes the sources declare, and fit their days."""

from __future__ import annotations

import json
import re

import pytest

from lrnn_course import build, instructor
from lrnn_course.checks import EXERCISES

ROOT = build.repo_root()
PLANS = instructor.lesson_plans(ROOT)
# Read independently of lrnn_course.instructor: the header line of each source's instructor cell.
DECLARED = {
    path.stem: json.loads(
        re.search(
            r'^# %% \[markdown\] tags=\["instructor"\] minutes=(\{.*\})$',
            path.read_text(encoding="utf-8"),
            re.MULTILINE,
        ).group(1)
    )
    for path in sorted((ROOT / "sources").glob("[0-9K]*.py"))
}


def test_every_source_declares_its_minutes():
    # Enforces CONTRIBUTING.md#rule-instructor-minutes
    assert sorted(DECLARED) == [plan.stem for plan in PLANS]
    for plan in PLANS:
        assert (plan.teach, plan.practice) == (DECLARED[plan.stem]["teach"], DECLARED[plan.stem]["practice"])


@pytest.mark.parametrize("workshop", instructor.WORKSHOPS, ids=lambda w: w.name)
def test_each_plan_teaches_every_lesson_for_exactly_its_declared_minutes(workshop):
    # Enforces CONTRIBUTING.md#rule-timing-plan
    slots = instructor.schedule(PLANS, workshop)
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
    slots = instructor.schedule(PLANS, workshop)
    days = sorted({slot.day for slot in slots})
    assert 1 <= len(days) <= workshop.days
    for day in days:
        today = [slot for slot in slots if slot.day == day]
        assert today[0].start == 9 * 60 and today[-1].end <= 17 * 60
        assert all(earlier.end == later.start for earlier, later in zip(today, today[1:]))
        afternoon = any(slot.lesson and slot.start >= instructor.LUNCH_AFTER for slot in today)
        assert [slot.activity for slot in today].count("Lunch") == int(afternoon)
        last_pause_end = today[0].start
        for slot in today:
            if slot.activity in ("Lunch", "Break"):
                last_pause_end = slot.end
            elif slot.lesson:
                assert slot.start - last_pause_end < instructor.BREAK_EVERY, f"no break before {slot.activity}"
        assert all(s.start >= instructor.LUNCH_AFTER for s in today if s.activity == "Lunch")
        lessons_today = [slot.lesson for slot in today if slot.lesson]
        assert all(lessons_today.count(stem) == 2 for stem in lessons_today), "a lesson never straddles two days"


def test_the_three_day_workshop_teaches_every_lesson_in_order():
    # Enforces CONTRIBUTING.md#rule-timing-plan
    slots = instructor.schedule(PLANS, next(w for w in instructor.WORKSHOPS if w.name == "3-day"))
    order = list(dict.fromkeys(slot.lesson for slot in slots if slot.lesson))
    assert order == [plan.stem for plan in PLANS]


def test_a_workshop_too_short_for_its_lessons_is_refused():
    with pytest.raises(ValueError, match="needs [0-9]+ days"):
        instructor.schedule(PLANS, instructor.Workshop("everything in a day", 1, ()))


def test_the_timing_page_lists_the_declared_minutes_and_totals():
    # Enforces CONTRIBUTING.md#rule-timing-plan
    page = (ROOT / "instructor" / "timing.md").read_text(encoding="utf-8")
    for plan in PLANS:
        minutes = DECLARED[plan.stem]
        assert (
            f"| {plan.title} | {minutes['teach']} | {minutes['practice']} | {minutes['teach'] + minutes['practice']} |"
            in page
        )
    total = sum(m["teach"] + m["practice"] for m in DECLARED.values())
    assert f"| {total} |" in page


def test_every_exercise_has_its_common_mistakes_and_its_check_rows_in_the_guide():
    # Enforces CONTRIBUTING.md#rule-common-mistakes
    for plan in PLANS:
        guide = (ROOT / "instructor" / "lessons" / f"{plan.stem}.md").read_text(encoding="utf-8")
        assert "## Talking points" in guide and "## Common mistakes" in guide
        for exercise in plan.exercises:
            assert f"**`{exercise}`**" in plan.notes, f"{plan.stem}: no common mistakes for {exercise}"
            assert all(f"“{case.name}”" in guide for case in EXERCISES[exercise].cases)


def test_a_source_without_an_instructor_cell_or_with_bad_minutes_is_refused(tmp_path):
    # Enforces CONTRIBUTING.md#rule-instructor-minutes
    source = ROOT / "sources" / "01_diagonal_scans.py"
    text = source.read_text(encoding="utf-8")
    header = re.search(r'^# %% \[markdown\] tags=\["instructor"\] minutes=\{.*\}$', text, re.MULTILINE).group(0)
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
