"""The package's layers: what an import brings in, and where the exercises come from.

``lint-imports`` (in ``make test``) enforces the import contract of ``[tool.importlinter]`` in
pyproject.toml; these tests check what it cannot see: which modules a fresh interpreter has loaded
after an import or a check, that no environment variable was set, and that the check registry
finds every lesson's module by its name alone.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import lrnn_course
from lrnn_course.checks import EXERCISES, Registry, check_modules
from lrnn_course.notebook_files import DIRECTIVE

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: import-linter brings tomli
    import tomli as tomllib

REPOSITORY = Path(__file__).resolve().parents[1]


def run_fresh_python(code: str) -> None:
    """Run ``code`` in a new interpreter started without TRITON_INTERPRET (this one may have set it)."""
    env = {key: value for key, value in os.environ.items() if key != "TRITON_INTERPRET"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPOSITORY), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


NOTHING_LEAKED = """
    leaked = sorted(
        name for name in ("triton", "lrnn_course.kernels", "lrnn_course.checker") if name in sys.modules
    )
    assert not leaked, leaked
    assert "TRITON_INTERPRET" not in os.environ, os.environ["TRITON_INTERPRET"]
"""


@pytest.mark.parametrize("module", ["lrnn_course", "lrnn_course.scan", "lrnn_course.ops", "lrnn_course.models"])
def test_an_import_brings_in_neither_triton_nor_the_checker_and_sets_no_variable(module):
    run_fresh_python(f"import os, sys\nimport {module}\n" + textwrap.dedent(NOTHING_LEAKED))


def test_the_package_root_offers_check_device_doctor_the_threads_helper_and_its_version():
    for module in ("lrnn_course.device", "lrnn_course.doctor", "lrnn_course.grade"):
        importlib.import_module(module)  # a module of the same name must not take the function's place
    assert callable(lrnn_course.check) and callable(lrnn_course.device) and callable(lrnn_course.doctor)
    assert callable(lrnn_course.threads_for_small_models)
    assert lrnn_course.__version__ and set(lrnn_course.__all__) == {
        "__version__",
        "check",
        "device",
        "doctor",
        "threads_for_small_models",
    }
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        lrnn_course.nothing  # noqa: B018


def test_checking_a_lesson_01_exercise_loads_no_kernel_lesson_and_no_triton():
    run_fresh_python(
        """
        import io, os, sys
        from lrnn_course import check
        from lrnn_course.checks import check_quietly
        from lrnn_course.scan import sequential_scan

        assert check("01.sequential_scan", sequential_scan, stream=io.StringIO())
        assert check_quietly("01.combine", __import__("lrnn_course.scan").scan.combine)
        kernel_checks = [name for name in sys.modules if name.startswith("lrnn_course.checks.lessonK")]
        assert not kernel_checks, kernel_checks
        for name in ("triton", "lrnn_course.kernels"):
            assert name not in sys.modules, name
        assert "TRITON_INTERPRET" not in os.environ
        """
    )


def test_auto_on_cpu_tensors_runs_pytorch_without_loading_the_kernels():
    run_fresh_python(
        """
        import os, sys
        import torch
        import torch.nn.functional as F
        from lrnn_course import ops

        a, b = torch.rand(2, 5, 3), torch.randn(2, 5, 3)
        assert ops.resolve_backend("auto", a) == "reference"
        ops.diagonal_scan(a, b)
        q = F.normalize(torch.randn(1, 6, 2, 8), dim=-1)
        k = F.normalize(torch.randn(1, 6, 2, 2, 8), dim=-1)
        ops.chunk_delta_rule(q, q, torch.randn(1, 6, 2, 4), torch.rand(1, 6, 2))
        ops.chunk_delta_product(q, k, torch.randn(1, 6, 2, 2, 4), torch.rand(1, 6, 2, 2), torch.rand(1, 6, 2))
        for name in ("triton", "lrnn_course.kernels"):
            assert name not in sys.modules, name
        assert "TRITON_INTERPRET" not in os.environ
        """
    )


def test_every_exercise_of_the_sources_is_registered_and_no_other():
    directives = {
        exercise
        for source in (REPOSITORY / "sources").glob("[0-9K]*.py")
        for exercise in DIRECTIVE.findall(source.read_text(encoding="utf-8"))
    }
    assert set(EXERCISES) == directives
    lessons = {source.stem.split("_")[0] for source in (REPOSITORY / "sources").glob("[0-9K]*.py")}
    assert set(EXERCISES.lesson_ids()) == lessons


def write_fake_checks(root: Path, name: str, modules: dict[str, str]) -> Path:
    """A package ``name`` under ``root`` with the given modules (module name -> source)."""
    package = root / name
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name, source in modules.items():
        (package / f"{name}.py").write_text(textwrap.dedent(source))
    return package


FAKE_LESSON = """
    from lrnn_course.checker import Case, Exercise

    def doubled(x):
        return 2 * x

    def is_double(fn):
        assert fn(2) == 4

    EXERCISES = [Exercise("{lesson}.doubled", doubled, (Case("doubles", is_double, ()),))]
"""


def test_a_check_module_is_found_by_its_name_and_imported_only_when_asked_for(tmp_path, monkeypatch):
    modules = {
        "lessonZ1": FAKE_LESSON.replace("{lesson}", "Z1"),
        "lesson12": FAKE_LESSON.replace("{lesson}", "12"),
        "helpers": "raise AssertionError('not a check module: never imported')",
    }
    package = write_fake_checks(tmp_path, "found_checks", modules)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert check_modules([str(package)]) == {"Z1": "lessonZ1", "12": "lesson12"}
    registry = Registry("found_checks", [str(package)])
    assert registry["Z1.doubled"].id == "Z1.doubled"
    assert "found_checks.lessonZ1" in sys.modules and "found_checks.lesson12" not in sys.modules
    assert "Z1.nothing" not in registry and "Z9.doubled" not in registry
    assert registry.of_lesson("12") == ["12.doubled"]
    assert sorted(registry) == ["12.doubled", "Z1.doubled"] and len(registry) == 2


def test_a_check_module_whose_ids_name_another_lesson_is_refused(tmp_path, monkeypatch):
    package = write_fake_checks(tmp_path, "misnamed_checks", {"lessonZ2": FAKE_LESSON.replace("{lesson}", "Z3")})
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ValueError, match=r"defines exercise 'Z3.doubled', but .* start with '<ID>.': here 'Z2.'"):
        Registry("misnamed_checks", [str(package)])["Z2.doubled"]


def test_every_module_of_the_package_has_a_layer():
    config = tomllib.loads((REPOSITORY / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    (layers,) = [contract["layers"] for contract in config["contracts"] if contract["type"] == "layers"]
    placed = {name.strip() for layer in layers for name in layer.replace("|", ":").split(":")}
    modules = {info.name for info in pkgutil.iter_modules(lrnn_course.__path__)} - {"__main__"}
    assert modules == placed
