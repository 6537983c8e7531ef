"""The Makefile's set-up and `make lab`, run for real against a stand-in venv whose python and jupyter only
record how they were called: which PyTorch build set-up installs from where, and how JupyterLab starts; then
`make lab` once more with this installation's real JupyterLab, a short-lived server on a free port."""

from __future__ import annotations

import json
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def lines_until(process: subprocess.Popen, pattern: re.Pattern, timeout_s: float) -> tuple[list[str], re.Match]:
    """The output lines of ``process`` up to the first that matches ``pattern``, and the match; fails at a deadline."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout_s
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not selector.select(timeout=0.5):
                continue
            line = process.stdout.readline()
            if not line:  # make ended: the server did not start
                break
            seen.append(line.rstrip("\n"))
            match = pattern.search(line)
            if match:
                return seen, match
    pytest.fail(f"no line matching {pattern.pattern} within {timeout_s:.0f} s; the output:\n" + "\n".join(seen))


def status(url: str, token: str | None, server: subprocess.Popen, output: list[str]) -> int:
    """The HTTP status of ``url``, with the token in the Authorization header when given."""
    headers = {"Authorization": f"token {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as response:
            assert "started" in json.load(response)
            return response.status
    except urllib.error.HTTPError as refused:
        return refused.code
    except urllib.error.URLError as unreachable:
        pytest.fail(f"{url}: {unreachable.reason}; make exited with {server.poll()}; its output:\n" + "\n".join(output))


def listening_addresses(port: int) -> set[str]:
    """The local addresses of the TCP sockets listening on ``port`` (Linux's /proc/net/tcp and tcp6), in hex."""
    addresses = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            local, state = row.split()[1], row.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                addresses.add(address)
    return addresses


@pytest.mark.skipif(shutil.which("jupyter", path=str(Path(sys.executable).parent)) is None, reason="no JupyterLab")
@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads the listening sockets from Linux's /proc")
def test_make_lab_starts_jupyterlab_on_localhost_with_a_token(tmp_path):
    # The real recipe with this installation's jupyter: a venv folder whose bin/jupyter is ours and whose set-up
    # stamp is fresh, so `make lab` goes straight to JupyterLab. Jupyter's config and runtime files go to tmp_path.
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "jupyter").symlink_to(Path(sys.executable).parent / "jupyter")
    (venv / ".installed").touch()
    port = free_port()
    environment = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
    }
    lab_args = f"--port={port} --ServerApp.port_retries=0 --no-browser"
    server = subprocess.Popen(
        ["make", "--no-print-directory", "lab", f"VENV={venv}", f"LAB_ARGS={lab_args}"],
        cwd=ROOT,
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # make, its shell and JupyterLab in a process group of their own, stopped together
    )
    try:
        url = re.compile(rf"(http://[^/\s]+:{port}/\S*)\?token=([0-9a-f]+)")
        output, match = lines_until(server, url, timeout_s=60)
        base, token = match.group(1), match.group(2)
        assert base == f"http://127.0.0.1:{port}/lab/tree/lessons" and len(token) >= 32
        # Jupyter prints the URL before its event loop binds the port: wait for the socket.
        deadline = time.monotonic() + 30
        while not listening_addresses(port) and server.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert status(f"http://127.0.0.1:{port}/api/status", token, server, output) == 200
        assert status(f"http://127.0.0.1:{port}/api/status", None, server, output) == 403
        assert listening_addresses(port) == {"0100007F"}, "listens on 127.0.0.1 and nowhere else"
        as_root = os.getuid() == 0
        assert ("running as root: JupyterLab starts with --allow-root" in output) == as_root
    finally:
        stop_process_group(server, port)
    assert listening_addresses(port) == set(), "the server stopped with its process group"


def stop_process_group(leader: subprocess.Popen, port: int, timeout_s: float = 15) -> None:
    """SIGTERM to the group that ``leader`` leads (Jupyter shuts down on it); SIGKILL if ``port`` still listens."""
    os.killpg(leader.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while listening_addresses(port) and time.monotonic() < deadline:
        time.sleep(0.2)
    if listening_addresses(port):
        os.killpg(leader.pid, signal.SIGKILL)
    leader.wait(timeout=timeout_s)
    leader.stdout.close()
