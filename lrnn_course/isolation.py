"""Run a check in a child process with a time limit, so learner code cannot take the notebook down.

Glossary (checker plumbing; no paper symbol):

=================  ==========================================================================
child              a copy of this process made by ``os.fork``: functions defined in notebook
                   cells stay usable there, with no pickling
frame              one message from the child: a finished row, or text the learner printed
time limit         seconds the whole check may take (``check(..., timeout=60)``, ``--timeout``)
=================  ==========================================================================

The child runs the cases one by one and sends each row as soon as it is done, so when the child
crashes (a kernel writing out of bounds can abort the process), loops forever or ends itself
(``sys.exit``, ``os._exit``), the parent keeps the rows already sent, makes a red row of the
case that was running, and marks the rest as not run. What the learner's code prints in the child
is forwarded to the parent's output, so debugging prints still show in the notebook.

A child cannot use CUDA once the parent has initialised it, and ``os.fork`` does not exist on
Windows: there the check runs in this process (``CheckResult.note`` says so), without a time limit;
kernels still write into guard bands (``check.Guarded``) rather than into foreign memory.
"""

from __future__ import annotations

import faulthandler
import io
import os
import pickle
import select
import signal
import struct
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import torch

from .checker import CheckResult, Row, run_case
from .checks import cases_of, check_quietly, unknown_exercise

HEADER = struct.Struct("!I")  # the length of the pickled frame that follows
SIGNAL_CAUSES = {
    signal.SIGABRT: "the process aborted (often a kernel that wrote out of bounds)",
    signal.SIGSEGV: "a segmentation fault (often a kernel that read or wrote out of bounds)",
    signal.SIGKILL: "it was killed, most likely for using too much memory",
}


def in_process_reason() -> str:
    """Why a check must run in this process, or "" when a child process can run it."""
    if not hasattr(os, "fork"):
        return "this system has no os.fork"
    if torch.cuda.is_initialized():
        return "CUDA is initialised in this process, and a child process cannot use it"
    return ""


def run_isolated(exercise: str, fn: Callable[..., Any], timeout: float) -> CheckResult:
    """The rows of ``exercise`` on ``fn``, computed in a child process stopped after ``timeout`` seconds."""
    problem = unknown_exercise(exercise, fn)
    if problem is not None:
        return CheckResult(exercise, [problem])
    reason = in_process_reason()
    if reason:
        result = check_quietly(exercise, fn)
        result.note = f"ran in this process, without a time limit: {reason}"
        return result
    return CheckResult(exercise, rows_from_child(exercise, fn, timeout))


def rows_from_child(exercise: str, fn: Callable[..., Any], timeout: float) -> list[Row]:
    """Fork, run the cases in the child, and gather its rows; a child that dies or overruns gives red rows."""
    cases = cases_of(exercise)
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():  # Python 3.12+ warns about forking a threaded process (a Jupyter kernel is one)
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_end)
        run_child(write_end, cases, fn)
    os.close(write_end)
    rows: list[Row] = []
    stopped = ""
    try:
        for kind, payload in frames(read_end, time.monotonic() + timeout):
            if kind == "row":
                rows.append(payload)
            else:
                sys.stdout.write(payload)
    except TimeoutError:
        os.kill(pid, signal.SIGKILL)
        stopped = (
            f"did not finish within {timeout:g} s (an endless loop? a very slow step?); "
            "check(..., timeout=…) sets the limit"
        )
    except BaseException:  # KeyboardInterrupt (the notebook's stop button) stops the child too
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise
    finally:
        os.close(read_end)
    _, status = os.waitpid(pid, 0)
    if len(rows) < len(cases):
        stopped = stopped or ending(status)
        running = cases[len(rows)]
        rows.append(Row(running.name, False, stopped, running.hints, priority=max(case.priority for case in cases) + 1))
        rows += [
            Row(case.name, False, "not run: an earlier row stopped the check", case.hints, case.priority)
            for case in cases[len(rows) :]
        ]
    return rows


def ending(status: int) -> str:
    """What a child's wait status says about how it ended before sending every row."""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        cause = SIGNAL_CAUSES.get(number, "a signal ended it")
        return f"the check's process crashed ({signal.Signals(number).name}: {cause}); your notebook is fine"
    return (
        f"your code ended the check's process (exit code {os.WEXITSTATUS(status)}, e.g. os._exit); "
        "return a result instead"
    )


def frames(read_end: int, deadline: float) -> Iterator[tuple[str, Any]]:
    """Decode the child's frames until it closes the pipe; ``TimeoutError`` after ``deadline``."""
    buffer = b""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([read_end], [], [], remaining)[0]:
            raise TimeoutError
        chunk = os.read(read_end, 1 << 16)
        if not chunk:
            return
        buffer += chunk
        while len(buffer) >= HEADER.size:
            (size,) = HEADER.unpack_from(buffer)
            if len(buffer) < HEADER.size + size:
                break
            yield pickle.loads(buffer[HEADER.size : HEADER.size + size])
            buffer = buffer[HEADER.size + size :]


class ForwardedText(io.TextIOBase):
    """The child's ``sys.stdout``/``sys.stderr``: each write goes to the parent as a text frame."""

    def __init__(self, send: Callable[[str, Any], None]):
        self.send = send

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if text:
            self.send("text", text)
        return len(text)


def run_child(write_end: int, cases: tuple, fn: Callable[..., Any]) -> None:
    """The child's whole life: run each case, send its row, and leave with ``os._exit`` (no atexit, no flush of
    the parent's sockets)."""

    def send(kind: str, payload: Any) -> None:
        data = pickle.dumps((kind, payload))
        view = memoryview(HEADER.pack(len(data)) + data)
        while view:  # a write to a pipe may take only part of a long frame
            view = view[os.write(write_end, view) :]

    try:
        # The parent's thread pools did not survive the fork; one thread is also what a small check needs.
        torch.set_num_threads(1)
        faulthandler.disable()  # a crash is reported as a row; a dump of the checker's own frames helps no learner
        sys.stdout = sys.stderr = ForwardedText(send)
        for case in cases:
            send("row", run_case(case, fn))
        code = 0
    except BaseException:  # nothing may escape into the forked copy of the notebook's kernel
        code = 1
    os._exit(code)
