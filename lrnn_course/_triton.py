"""The one place that decides how the course's Triton kernels run, and makes it so.

Glossary (code name -> meaning; no paper symbol, this is plumbing):

=================  ========================================================================
``triton``, ``tl``  the ``triton`` and ``triton.language`` modules, or ``None`` when unavailable
``"compiled"``      kernels are compiled to GPU code and launched on a CUDA GPU
``"interpreter"``   ``TRITON_INTERPRET=1``: Triton runs each kernel in Python on the CPU, block
                    by block, with NumPy; same results, a few thousand times slower
``"unavailable"``   Triton cannot run here; the lessons use the PyTorch reference instead
=================  ========================================================================

``@triton.jit`` picks the interpreter or the compiler when it decorates a function, reading the
``TRITON_INTERPRET`` variable at that moment. So this module must be imported before any module
that defines a kernel (every kernel module imports ``triton`` and ``tl`` from here, which takes
care of that), and the mode is decided once, here, so that it cannot drift from the kernels
already decorated. A learner's own ``TRITON_INTERPRET`` always wins over our default.
"""

from __future__ import annotations

import os

import torch

INTERPRET_VARIABLE = "TRITON_INTERPRET"

_cuda_available = torch.cuda.is_available()
_user_interpret_value = os.environ.get(INTERPRET_VARIABLE)
_we_switch_interpreter_on = _user_interpret_value is None and not _cuda_available
if _we_switch_interpreter_on:
    os.environ[INTERPRET_VARIABLE] = "1"

try:
    import triton
    import triton.language as tl
except Exception as error:  # noqa: BLE001 - not only ImportError: a broken install can raise anything
    triton = tl = None
    _import_error: str | None = f"{type(error).__name__}: {error}"
else:
    _import_error = None


def _interpreter_on() -> bool:
    """What ``@triton.jit`` will see: Triton's own knob where it has one (3.4+), else the variable."""
    knobs = getattr(triton, "knobs", None)
    if knobs is not None:
        return bool(knobs.runtime.interpret)
    return os.environ.get(INTERPRET_VARIABLE, "0").lower() in ("1", "true", "on", "yes")


def _standard_library_interpreted() -> bool:
    """Whether ``tl.sum`` and the rest of Triton's ``@jit`` library were built for the interpreter.

    They are decorated once, when ``triton`` is first imported; a kernel decorated in the other
    mode fails when it calls them ("Cannot call @triton.jit'd outside of the scope of a kernel").
    """
    from triton.runtime.jit import JITFunction

    probe = getattr(getattr(tl, "standard", None), "sum", None)
    if probe is None:  # a Triton laid out differently: nothing to compare, trust the knob
        return _interpreter_on()
    return not isinstance(probe, JITFunction)


def _decide() -> tuple[str, str]:
    if triton is None:
        return "unavailable", f"triton could not be imported ({_import_error}); lessons use the PyTorch reference"
    if _interpreter_on() != _standard_library_interpreted():
        first, now = ("compiler", "interpreter") if _interpreter_on() else ("interpreter", "compiler")
        return "unavailable", (
            f"triton was imported before lrnn_course.kernels, with its library built for the {first}, "
            f"but kernels would now be built for the {now}; import lrnn_course.kernels before triton "
            f"(or set {INTERPRET_VARIABLE} before Python starts). Lessons use the PyTorch reference"
        )
    if _interpreter_on():
        who = "set by lrnn_course: PyTorch sees no CUDA GPU" if _we_switch_interpreter_on else "set outside lrnn_course"
        return "interpreter", (
            f"{INTERPRET_VARIABLE}=1 ({who}), kernels run on the CPU through Triton's interpreter "
            f"(triton {triton.__version__}; slow, meant for learning and testing)"
        )
    if _cuda_available:
        return "compiled", f"kernels are compiled for {torch.cuda.get_device_name()} (triton {triton.__version__})"
    if _user_interpret_value is not None:
        cause = f"{INTERPRET_VARIABLE}={_user_interpret_value} was set before lrnn_course was imported"
    else:
        cause = "Triton's interpreter was switched off (triton.knobs.runtime.interpret is False)"
    return "unavailable", (
        f"{cause} and PyTorch sees no CUDA GPU, so kernels can neither be compiled nor interpreted; "
        f"start Python with {INTERPRET_VARIABLE}=1 to use the interpreter. Lessons use the PyTorch reference"
    )


_mode, _reason = _decide()


def triton_mode() -> str:
    """Return ``"compiled"``, ``"interpreter"`` or ``"unavailable"``: how the course's kernels run here."""
    return _mode


def triton_status() -> str:
    """Return one line that says how the course's kernels run here and why."""
    return f"{_mode}: {_reason}"
