"""CONTRIBUTING.md and the tests agree: every lesson rule it states names the tests that enforce it, each of those
tests cites the rule's section, and every citation names a section that exists.

A citation is the text ``CONTRIBUTING.md#rule-...`` in a test function (its decorators, docstring or comments), or
in the Makefile for the checks that ``make test`` runs outside pytest (nbval, ruff, lint-imports). A test that
starts enforcing a new rule of lessons cites a new section, which fails here until CONTRIBUTING.md has it.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from lrnn_course import build, cli, runner

ROOT = Path(__file__).resolve().parents[1]
RULE_ANCHOR = re.compile(r'^<a id="(rule-[a-z0-9-]+)"></a>$', re.MULTILINE)
CITATION = re.compile(r"CONTRIBUTING\.md#(rule-[a-z0-9-]+)")
ENFORCER = re.compile(r"`(tests/test_\w+\.py::test_\w+|Makefile)`")
SECTION_END = re.compile(r'^(<a id="|## )', re.MULTILINE)
MAKEFILE = "Makefile"


@dataclass(frozen=True)
class Citation:
    rule: str  # the anchor, "rule-exercise-count"
    enforcer: str  # "tests/test_build.py::test_every_exercise_belongs_to_a_lesson", or "Makefile"


def rule_citations(root: Path) -> list[Citation]:
    """Every citation of a rule in the top-level test functions of ``root/tests`` and in ``root/Makefile``."""
    citations = []
    for path in sorted((root / "tests").glob("test_*.py")):
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        for node in ast.parse(text).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                first = min([node.lineno, *(decorator.lineno for decorator in node.decorator_list)])
                source = "\n".join(lines[first - 1 : node.end_lineno])
                citations += [Citation(rule, f"tests/{path.name}::{node.name}") for rule in CITATION.findall(source)]
    makefile = (root / MAKEFILE).read_text(encoding="utf-8")
    return citations + [Citation(rule, MAKEFILE) for rule in CITATION.findall(makefile)]


def rule_sections(guide: str) -> dict[str, str]:
    """Each rule's anchor and its section's text, from the anchor to the next anchor or level-2 heading."""
    sections = {}
    for anchor in RULE_ANCHOR.finditer(guide):
        end = SECTION_END.search(guide, anchor.end())
        sections[anchor.group(1)] = guide[anchor.start() : end.start() if end else len(guide)]
    return sections


GUIDE = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
SECTIONS = rule_sections(GUIDE)
CITATIONS = rule_citations(ROOT)


@pytest.mark.parametrize("rule", sorted(SECTIONS))
def test_each_rule_names_the_tests_that_enforce_it_and_each_of_them_cites_it(rule):
    named = set(ENFORCER.findall(SECTIONS[rule]))
    citing = {citation.enforcer for citation in CITATIONS if citation.rule == rule}
    assert named, f"the section of {rule} names no test: end it with 'Enforced by: `tests/...py::test_...`'"
    assert named == citing, f"CONTRIBUTING.md names {sorted(named - citing)}, which do not cite {rule}; " + (
        f"{sorted(citing - named)} cite it but are not named there"
    )


def test_every_citation_names_a_rule_that_contributing_states():
    dangling = sorted({(citation.enforcer, citation.rule) for citation in CITATIONS if citation.rule not in SECTIONS})
    assert dangling == [], "these cite a section that CONTRIBUTING.md lacks: write it (or fix the citation)"


def test_each_rule_has_one_anchor_and_a_heading_under_it():
    anchors = RULE_ANCHOR.findall(GUIDE)
    assert len(anchors) == len(set(anchors)) == len(SECTIONS) > 0
    for rule in anchors:
        assert re.search(rf'^<a id="{rule}"></a>\n\n### \S', GUIDE, re.MULTILINE), f"{rule} opens no ### heading"


def test_a_rule_without_a_citing_test_and_a_citation_without_a_rule_are_both_found(tmp_path):
    cite = "CONTRIBUTING.md" + "#rule-"  # split, so that this file cites nothing itself
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_toy.py").write_text(
        f"# {cite}outside: a module comment cites nothing\n"
        f"@decorated  # {cite}b\n"
        "def test_one():\n"
        f'    """{cite}a"""\n'
        "\n\n"
        "def helper():\n"
        f"    pass  # {cite}in-a-helper\n",
        encoding="utf-8",
    )
    (tmp_path / MAKEFILE).write_text(f"# nbval: {cite}c\n", encoding="utf-8")
    guide = (
        '## Rules\n\n<a id="rule-a"></a>\n\n### A\n\nEnforced by: `tests/test_toy.py::test_one`.\n\n'
        '<a id="rule-d"></a>\n\n### D\n\nEnforced by: `tests/test_toy.py::test_two`.\n\n## After\n\n`Makefile`\n'
    )
    sections = rule_sections(guide)
    assert set(sections) == {"rule-a", "rule-d"} and "Makefile" not in sections["rule-d"]
    citations = set(rule_citations(tmp_path))
    assert citations == {
        Citation("rule-b", "tests/test_toy.py::test_one"),
        Citation("rule-a", "tests/test_toy.py::test_one"),
        Citation("rule-c", MAKEFILE),
    }
    cited = {citation.rule for citation in citations}
    assert set(sections) - cited == {"rule-d"} and cited - set(sections) == {"rule-b", "rule-c"}


def test_the_guide_names_every_directive_the_generator_reads():
    table = GUIDE.split("## A lesson's source", 1)[1].split("\n## ", 1)[0]
    directive = re.search(r"`(#\\\| exercise: [^`]+)`", table).group(1).replace("\\|", "|")
    assert build.DIRECTIVE.fullmatch(directive), f"{directive!r} is not a directive that lrnn-course build reads"
    tags = (*build.SOURCE_TAGS, runner.PARAMETERS_TAG, "nbval-check-output", runner.WIDGET_TAG)
    assert [tag for tag in tags if f'tags=["{tag}"]' not in table] == []
    generated = (build.TRY_FIRST_TAG, build.SOLUTION_TAG, *build.KEPT_CELL_METADATA, *build.FOLDED)
    assert [name for name in generated if f"`{name}" not in table] == []
    assert all(marker in table for marker in (build.BEGIN, build.END, *build.STUB))
    assert 'minutes={"teach": ' in table and 'slideshow={"slide_type": "slide"}' in table


def test_every_command_the_guide_names_is_a_command_of_lrnn_course(capsys):
    commands = set(re.findall(r"lrnn-course ([a-z][a-z-]*)", GUIDE))
    assert "new-lesson" in commands
    for command in commands:
        with pytest.raises(SystemExit) as stopped:
            cli.parser().parse_args([command, "--help"])
        assert stopped.value.code == 0, f"lrnn-course {command} is no command"
    capsys.readouterr()


def test_every_file_the_guide_names_exists():
    """Example paths of a new lesson (its number 10, ``gated_sums``, ``NN_name``) and what commands write into
    ``build/`` are not files of the checkout."""
    named = set(re.findall(r"`([\w./-]+\.(?:py|md|cfg|toml))`", GUIDE))
    examples = re.compile(r"NN|10|gated_sums|^build/")
    assert [name for name in sorted(named) if not examples.search(name) and not (ROOT / name).exists()] == []


def test_the_readme_sends_contributors_to_the_guide():
    assert "(CONTRIBUTING.md)" in (ROOT / "README.md").read_text(encoding="utf-8")
