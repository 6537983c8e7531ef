"""benchmarks/gpu_session.sh: steps under a budget, skipped once they passed for the same code, results packed.

The script runs in a copy of the checkout with a stand-in `make` on the PATH, so the test checks its
bookkeeping (fingerprints, exit status, budget, the pack) without a GPU.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LOG = "benchmarks/results/gpu-test-h100.log"

pytestmark = pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in ("bash", "timeout", "sha256sum", "tar", "gzip")),
    reason="needs bash, timeout, sha256sum, tar and gzip",
)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """The parts of the checkout the script reads, with a `make` that records its calls and exits with $MAKE_STATUS."""
    copy = tmp_path / "checkout"
    for folder in ("lrnn_course", "tests", "sources", "benchmarks"):
        shutil.copytree(ROOT / folder, copy / folder, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, copy / name)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_make = bin_dir / "make"
    fake_make.write_text(
        '#!/bin/sh\necho "make called with: $*" >> "$MAKE_CALLS"\necho "1 passed"\nexit "${MAKE_STATUS:-0}"\n'
    )
    fake_make.chmod(0o755)
    fake_smi = bin_dir / "nvidia-smi"
    fake_smi.write_text("#!/bin/sh\necho 'a stand-in GPU'\n")
    fake_smi.chmod(0o755)
    (tmp_path / "out").mkdir()
    return copy


def session(checkout: Path, *steps: str, budget_s: int = 400, make_status: int = 0) -> str:
    """Run the script in ``checkout``; return what it printed."""
    calls = checkout.parent / "make-calls.txt"
    env = os.environ | {
        "PATH": f"{checkout.parent / 'bin'}:{os.environ['PATH']}",
        "MAKE_CALLS": str(calls),
        "MAKE_STATUS": str(make_status),
        "OUT": str(checkout.parent / "out"),
        "BUDGET_S": str(budget_s),
        "RESERVE_S": "5",
        "PY": "python3",
        "JOBS": "8",
        "FORCE": "0",  # as if no session were running this test
    }
    done = subprocess.run(
        ["bash", "benchmarks/gpu_session.sh", *steps],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def make_calls(checkout: Path) -> list[str]:
    calls = checkout.parent / "make-calls.txt"
    return calls.read_text().splitlines() if calls.exists() else []


def test_a_step_that_passed_for_this_code_is_skipped_and_reruns_when_the_code_changes(checkout):
    session(checkout, "gpu-test")
    assert make_calls(checkout) == ["make called with: gpu-test PY=python3 JOBS=8"]
    log = (checkout / LOG).read_text().splitlines()
    assert log[0].startswith("# fingerprint ") and log[0].endswith("a stand-in GPU")
    assert log[-2:] == ["1 passed", "# exit status 0"]

    assert "gpu-test already passed for this code" in session(checkout, "gpu-test")
    assert len(make_calls(checkout)) == 1
    timings = (checkout / "benchmarks/results/gpu-session.log").read_text().splitlines()
    assert [line.split("] ", 1)[1] for line in timings if "] step " in line] == ["step gpu-test", "step gpu-test"]

    with (checkout / "lrnn_course" / "scan.py").open("a") as source:
        source.write("\n# changed\n")
    session(checkout, "gpu-test")
    assert len(make_calls(checkout)) == 2, "a change to the package makes the old log stale"


def test_a_failed_step_is_run_again_and_a_budget_too_small_skips_it(checkout):
    session(checkout, "gpu-test", make_status=1)
    assert (checkout / LOG).read_text().splitlines()[-1] == "# exit status 1"
    printed = session(checkout, "gpu-test", budget_s=100)
    assert (
        "skipped the command that writes benchmarks/results/gpu-test-h100.log" in printed
        and "it needs 180 s" in printed
    )
    assert len(make_calls(checkout)) == 1
    session(checkout, "gpu-test")
    assert len(make_calls(checkout)) == 2


def test_the_results_are_packed_into_out_however_the_session_ends(checkout):
    session(checkout, "gpu-test")
    with tarfile.open(checkout.parent / "out" / "results.tgz") as pack:
        assert LOG in pack.getnames()
    (checkout.parent / "out" / "results.tgz").unlink()
    no_gpu = checkout.parent / "no-gpu-bin"  # the tools the script needs up to its check, and no nvidia-smi
    no_gpu.mkdir()
    for tool in ("dirname", "date", "tar", "gzip"):
        (no_gpu / tool).symlink_to(shutil.which(tool))
    for path, complaint in (
        (f"{checkout.parent / 'bin'}:{os.environ['PATH']}", "the steps are: bench gpu-test mamba experiments course"),
        (str(no_gpu), "no nvidia-smi: a GPU session needs a CUDA machine"),
    ):
        done = subprocess.run(
            [shutil.which("bash"), "benchmarks/gpu_session.sh", "no-such-step"],
            cwd=checkout,
            capture_output=True,
            text=True,
            env=os.environ | {"OUT": str(checkout.parent / "out"), "PATH": path},
        )
        assert done.returncode == 2 and complaint in done.stderr
        assert (checkout.parent / "out" / "results.tgz").exists()
        (checkout.parent / "out" / "results.tgz").unlink()
