"""The Makefile's set-up and `make lab`, run for real against a stand-in venv whose python and jupyter only
record how they were called: which PyTorch build set-up installs from where, and how JupyterLab starts."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CPU_INDEX = "https://download.pytorch.org/whl/cpu"

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")

RECORDER = """#!/bin/sh
echo "$(basename "$0") $*" >> "{log}"
case "$*" in
  *"import torch"*) exit 1 ;;  # PyTorch is not installed yet
  *"--index-url"*) exit {index_status} ;;
esac
exit 0
"""


def stand_in_venv(tmp_path: Path, index_status: int = 0) -> tuple[Path, Path]:
    venv, log = tmp_path / "venv", tmp_path / "calls.log"
    (venv / "bin").mkdir(parents=True)
    for name in ("python", "jupyter"):
        tool = venv / "bin" / name
        tool.write_text(RECORDER.format(log=log, index_status=index_status))
        tool.chmod(0o755)
    return venv, log


def make(target: str, venv: Path) -> subprocess.CompletedProcess:
    path = ":".join(p for p in os.environ["PATH"].split(":") if not (Path(p) / "nvidia-smi").exists())
    return subprocess.run(
        ["make", "--no-print-directory", target, f"VENV={venv}"],
        cwd=ROOT,
        env={**os.environ, "PATH": path},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_setup_without_a_gpu_installs_pytorchs_cpu_build_from_its_own_index(tmp_path):
    venv, log = stand_in_venv(tmp_path)
    result = make("setup", venv)
    assert result.returncode == 0, result.stderr
    installs = [line for line in log.read_text().splitlines() if " install " in line]
    assert installs == [
        f"python -m pip install --retries 1 --timeout 15 --index-url {CPU_INDEX} torch==2.13.0",
        "python -m pip install -e .[dev]",
    ]
    assert not [line for line in result.stdout.splitlines() if line.startswith("PyTorch's CPU index")]


def test_setup_falls_back_to_the_default_index_and_says_so_when_pytorchs_index_does_not_answer(tmp_path):
    venv, log = stand_in_venv(tmp_path, index_status=1)
    result = make("setup", venv)
    assert result.returncode == 0, result.stderr
    installs = [line for line in log.read_text().splitlines() if " install " in line]
    assert installs == [
        f"python -m pip install --retries 1 --timeout 15 --index-url {CPU_INDEX} torch==2.13.0",
        "python -m pip install torch==2.13.0",
        "python -m pip install -e .[dev]",
    ]
    said = f"PyTorch's CPU index ({CPU_INDEX}) did not answer: installing torch==2.13.0 from the default index"
    assert said in result.stdout.splitlines()  # a line of its own, not the recipe that make echoes


def test_lab_listens_on_localhost_and_allows_root_only_for_root(tmp_path):
    venv, log = stand_in_venv(tmp_path)
    (venv / ".installed").touch()  # set up already: newer than pyproject.toml
    result = make("lab", venv)
    assert result.returncode == 0, result.stderr
    (call,) = log.read_text().splitlines()
    assert call.startswith("jupyter lab --ServerApp.ip=127.0.0.1 ")
    assert f"--ServerApp.root_dir={ROOT}" in call and "--LabApp.default_url=/lab/tree/lessons" in call
    as_root = os.getuid() == 0
    assert ("--allow-root" in call.split()) == as_root
    assert ("running as root: JupyterLab starts with --allow-root" in result.stdout.splitlines()) == as_root
