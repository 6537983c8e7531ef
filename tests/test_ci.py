"""The CI entry points: the workflows call scripts that exist, and the scripts call what the README says."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
SCRIPTS = sorted((ROOT / ".ci").iterdir())


def run_steps(workflow: Path) -> list[str]:
    jobs = yaml.safe_load(workflow.read_text(encoding="utf-8"))["jobs"]
    return [step["run"] for job in jobs.values() for step in job["steps"] if "run" in step]


def test_the_three_workflows_each_run_one_ci_script():
    assert [w.name for w in WORKFLOWS] == ["cpu.yml", "drift.yml", "gpu.yml"]
    scripts = {}
    for workflow in WORKFLOWS:
        steps = run_steps(workflow)
        assert len(steps) == 1, workflow.name
        scripts[workflow.name] = re.fullmatch(r"(?:CI=true )?bash (\.ci/\w+)", steps[0]).group(1)
    assert scripts == {"cpu.yml": ".ci/run", "drift.yml": ".ci/drift", "gpu.yml": ".ci/gpu"}


def test_the_gpu_workflow_runs_on_a_self_hosted_cuda_runner():
    job = yaml.safe_load((ROOT / ".github/workflows/gpu.yml").read_text(encoding="utf-8"))["jobs"]["gpu"]
    assert job["runs-on"] == ["self-hosted", "linux", "gpu"]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_each_ci_script_is_executable_bash_that_parses(script):
    assert os.access(script, os.X_OK)
    assert script.read_text(encoding="utf-8").startswith("#!/usr/bin/env bash\n")
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0


def test_ci_runs_exactly_the_readme_test_command_and_drift_runs_it_too():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make test    # set up (first time only) and run the whole test suite" in readme
    assert re.search(r"^make test$", (ROOT / ".ci/run").read_text(encoding="utf-8"), re.MULTILINE)
    assert re.search(r'^make test VENV="\$VENV"$', (ROOT / ".ci/drift").read_text(encoding="utf-8"), re.MULTILINE)


def make_dry_run(*arguments: str) -> str:
    done = subprocess.run(["make", "-n", *arguments], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_the_gpu_steps_are_the_gpu_suite_and_every_notebook_at_full_size_on_cuda():
    assert "LRNN_COURSE_DEVICE=cuda MPLBACKEND=Agg python3 -m pytest -n 2 tests -v -rs" in make_dry_run(
        "gpu-test", "PY=python3"
    )
    course = make_dry_run(
        "course", "PY=python3", "SIZE=full", "DEVICE=cuda", "TRAIN_JOBS=4", "COURSE_OUT=build/gpu-ci/course"
    )
    assert "python3 -m lrnn_course run --size full --device cuda --jobs 4 --out build/gpu-ci/course" in course
    assert "pip install" not in course, "with PY=python3 nothing is installed"
    gpu = (ROOT / ".ci/gpu").read_text(encoding="utf-8")
    assert 'make gpu-test PY="$PY"' in gpu and 'make course PY="$PY" SIZE=full DEVICE=cuda' in gpu


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="describes a machine without a GPU")
def test_the_gpu_script_refuses_a_machine_without_a_gpu(tmp_path):
    done = subprocess.run(
        ["bash", str(ROOT / ".ci/gpu")], capture_output=True, text=True, env={**os.environ, "LOG_DIR": str(tmp_path)}
    )
    assert done.returncode == 2 and "needs a CUDA machine" in done.stderr


def test_the_drift_job_installs_the_newest_cpu_torch_in_a_fresh_venv():
    drift = (ROOT / ".ci/drift").read_text(encoding="utf-8")
    assert 'rm -rf "$VENV"' in drift and "--index-url https://download.pytorch.org/whl/cpu" in drift
    assert "==" not in drift.split("pip list")[0], "the drift job pins nothing"
