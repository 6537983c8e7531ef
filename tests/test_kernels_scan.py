"""The Triton diagonal scan agrees with ``sequential_scan`` computed in float64.

Without a GPU the kernel runs through Triton's interpreter, which executes every combine of
``tl.associative_scan`` as a Python call (a few thousand elements per second), so the shapes
below are chosen for what they exercise, not for size: T of 1, one below, at and above a
block of 64 (and of the interpreter's 16), and 1000 for the carry across many blocks; D of 1,
an odd 5 and 33 (one past a block of 32). Gradients cost a second, reversed scan, so their
shapes are fewer.
"""

from __future__ import annotations

import functools
import types

import pytest
import torch
from kernel_support import KERNEL_DEVICE, needs_kernel, on_gpu, relative_max_error, rms_relative_error

from lrnn_course._triton import triton_mode, triton_status
from lrnn_course.kernels import backend as kernel_backend
from lrnn_course.kernels import scan as kernel_scan
from lrnn_course.kernels.scan import launch_scan, smoke_test
from lrnn_course.ops import diagonal_scan, resolve_backend
from lrnn_course.scan import sequential_scan

# Half-precision results are rounded inside the kernels: a GPU rounds to nearest, Triton 3.9's interpreter truncates
# (module docstring of kernels.scan), about twice the error, and dL/da = lambda * h_{t-1} multiplies two such values.
HALF_RMS_TOLERANCE = 5e-3 if triton_mode() == "compiled" else 1e-2


def scan_inputs(batch, steps, width, *, seed=0, with_h0=True, dtype=torch.float32, device="cpu"):
    """Gates uniform in [-1, 1] with about a quarter replaced by exactly -1, 0 or 1; Gaussian inputs."""
    generator = torch.Generator().manual_seed(seed)
    gates = torch.rand(batch, steps, width, generator=generator, dtype=torch.float64) * 2 - 1
    special = torch.randint(-1, 2, gates.shape, generator=generator).double()
    gates = torch.where(torch.rand(gates.shape, generator=generator) < 0.25, special, gates)
    inputs = torch.randn(batch, steps, width, generator=generator, dtype=torch.float64)
    initial = torch.randn(batch, width, generator=generator, dtype=torch.float64) if with_h0 else None
    return tuple(None if x is None else x.to(device, dtype) for x in (gates, inputs, initial))


def float64_reference(a, b, h0):
    return sequential_scan(a.double(), b.double(), None if h0 is None else h0.double())


def gradients(scan, a, b, h0, grad_h):
    """d(sum(grad_h * h))/d(a, b, h0) for the given scan, with None for a missing h0."""
    inputs = [None if x is None else x.detach().requires_grad_(True) for x in (a, b, h0)]
    scan(*inputs).backward(grad_h)
    return [None if x is None else x.grad for x in inputs]


def triton_and_float64_gradients(a, b, h0, seed=0, min_programs=None):
    grad_h = torch.randn(a.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    scan = functools.partial(kernel_scan.diagonal_scan, min_programs=min_programs)
    mine = gradients(scan, a, b, h0, grad_h.to(a.device, a.dtype))
    expected = gradients(sequential_scan, *(None if x is None else x.double() for x in (a, b, h0)), grad_h.to(a.device))
    return mine, expected


@needs_kernel
@pytest.mark.parametrize("with_h0", [False, True], ids=["zero_h0", "given_h0"])
@pytest.mark.parametrize(
    "batch, steps, width",
    [(1, 1, 1), (3, 17, 5), (1, 63, 33), (3, 64, 1), (1, 65, 5), (1, 65, 33), (1, 1000, 1)],
)
def test_triton_matches_float64_reference(batch, steps, width, with_h0):
    a, b, h0 = scan_inputs(batch, steps, width, seed=steps * 100 + width, with_h0=with_h0, device=KERNEL_DEVICE)
    states = diagonal_scan(a, b, h0, backend="triton")
    assert states.shape == a.shape and states.dtype == a.dtype and states.device == a.device
    assert relative_max_error(states, float64_reference(a, b, h0)) < 1e-5


@needs_kernel
@pytest.mark.parametrize("with_h0", [False, True], ids=["zero_h0", "given_h0"])
@pytest.mark.parametrize(
    "batch, steps, width", [(1, 1, 1), (3, 17, 5), (1, 63, 33), (3, 64, 1), (1, 65, 5), (1, 65, 33)]
)
def test_triton_gradients_match_float64_reference(batch, steps, width, with_h0):
    a, b, h0 = scan_inputs(batch, steps, width, seed=steps * 100 + width, with_h0=with_h0, device=KERNEL_DEVICE)
    mine, expected = triton_and_float64_gradients(a, b, h0, seed=steps + width)
    for name, gradient, reference in zip(("a", "b", "h0"), mine, expected):
        if reference is None:
            assert gradient is None
            continue
        assert gradient.dtype == torch.float32 and gradient.shape == reference.shape, name
        assert relative_max_error(gradient, reference) < 1e-5, name


# Chunks of one and of two interpreter blocks (16 steps), the last one short: T = 65 is 4 * 16 + 1.
CHUNKED_SHAPES = [(1, 65, 5, 10), (2, 65, 17, 8), (1, 33, 3, 100)]


@needs_kernel
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["float32", "bfloat16"])
@pytest.mark.parametrize("batch, steps, width, min_programs", CHUNKED_SHAPES)
def test_chunk_parallel_path_matches_float64_reference(batch, steps, width, min_programs, dtype):
    """Time split into chunks (pass 1, a scan over the chunks, pass 3), forward and all three gradients."""
    a, b, h0 = scan_inputs(batch, steps, width, seed=steps + width, dtype=dtype, device=KERNEL_DEVICE)
    plan = kernel_scan._ChunkPlan.for_inputs(a, min_programs)
    assert plan.chunks > 1 and plan.chunk_steps % plan.block_t == 0
    a[:, plan.chunk_steps] = 0.0  # a reset at the first step of the second chunk
    states = kernel_scan.diagonal_scan(a, b, h0, min_programs=min_programs)
    mine, expected = triton_and_float64_gradients(a, b, h0, seed=steps, min_programs=min_programs)
    if dtype == torch.float32:
        assert relative_max_error(states, float64_reference(a, b, h0)) < 1e-5
        assert all(relative_max_error(g, r) < 1e-5 for g, r in zip(mine, expected))
    else:
        assert rms_relative_error(states.double(), float64_reference(a, b, h0)) < HALF_RMS_TOLERANCE
        assert all(
            g.dtype == dtype and rms_relative_error(g.double(), r) < HALF_RMS_TOLERANCE for g, r in zip(mine, expected)
        )


@needs_kernel
@pytest.mark.parametrize("min_programs", [None, 8], ids=["one_chunk", "chunks"])
def test_fused_backward_equals_the_lessons_scan_backward(min_programs):
    """The fused reverse kernel gives K2's gradients (a reverse launch and PyTorch products) to float32 rounding."""
    a, grad_h, h0 = scan_inputs(2, 40, 5, seed=4, device=KERNEL_DEVICE)
    h = kernel_scan.scan_forward(a, torch.randn_like(a), h0)
    fused = kernel_scan.fused_scan_backward(a, h0, h, grad_h, min_programs)
    for mine, lesson in zip(fused, kernel_scan.scan_backward(a, h0, h, grad_h)):
        assert mine.shape == lesson.shape and mine.dtype == lesson.dtype
        assert relative_max_error(mine, lesson.double()) < 1e-6


def pretend_h100(monkeypatch):
    monkeypatch.setattr(kernel_scan, "triton_mode", lambda: "compiled")
    properties = types.SimpleNamespace(multi_processor_count=132)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device=None: properties)


@pytest.mark.skipif(kernel_scan.triton is None, reason="Triton is not installed")
@pytest.mark.parametrize(
    "shape, chunks",
    [((1, 4096, 512), 32), ((4, 4096, 512), 6), ((8, 4096, 2048), 1), ((1, 100, 512), 1)],
    ids=["B1_D512", "B4_D512", "benchmark_shape", "one_block_of_time"],
)
def test_small_grids_split_time_into_chunks_on_an_h100(monkeypatch, shape, chunks):
    """Few (batch row, column block) programs: enough chunks of whole 128-step blocks for 4 programs a
    multiprocessor (4 x 132); many: one chunk, the 12-byte path; never more chunks than blocks of time."""
    pretend_h100(monkeypatch)
    plan = kernel_scan._ChunkPlan.for_inputs(torch.empty(shape, device="meta"), None)
    assert plan.chunks == chunks
    if chunks > 1:
        assert plan.grid[0] * plan.grid[1] * plan.grid[2] >= 4 * 132


@pytest.mark.skipif(kernel_scan.triton is None, reason="Triton is not installed")
def test_kernel_path_validates_without_reading_a_value():
    """Tensors on the meta device have no values: reading one (.item(), bool(), what a host synchronisation
    waits for on a GPU) raises. The kernel's validation passes them and only the device refusal stops them;
    asked to check finiteness, it reads values and fails on them."""
    a, b = torch.empty(2, 5, 3, device="meta"), torch.empty(2, 5, 3, device="meta")
    h0 = torch.empty(2, 3, device="meta")
    with pytest.raises(RuntimeError, match="backend='triton'"):
        kernel_scan.diagonal_scan(a, b, h0)
    with pytest.raises(RuntimeError, match="meta tensors"):
        kernel_scan.diagonal_scan(a, b, h0, check_finite=True)


@needs_kernel
def test_non_finite_inputs_flow_through_unless_checked():
    a, b, h0 = scan_inputs(1, 6, 2, device=KERNEL_DEVICE)
    b[0, 2, 1] = float("nan")
    states = kernel_scan.diagonal_scan(a, b, h0)
    reached = torch.zeros_like(states, dtype=torch.bool)
    reached[0, 2:, 1] = True  # every later state of that column, even past a zero gate (0 * NaN = NaN)
    assert torch.equal(states.isnan(), reached)
    with pytest.raises(ValueError, match="non-finite"):
        kernel_scan.diagonal_scan(a, b, h0, check_finite=True)


@needs_kernel
@pytest.mark.parametrize("steps, width", [(1, 1), (17, 5), (65, 33)])
def test_reversed_launch_computes_the_adjoints(steps, width):
    """lambda_t = g_t + a_{t+1} * lambda_{t+1}, lambda_{T-1} = g_{T-1}, written as a plain loop."""
    a, grad_h, _ = scan_inputs(2, steps, width, seed=steps * width, device=KERNEL_DEVICE)
    a64, grad_h64 = a.double(), grad_h.double()
    expected = torch.empty_like(grad_h64)
    expected[:, -1] = grad_h64[:, -1]
    for t in range(steps - 2, -1, -1):
        expected[:, t] = grad_h64[:, t] + a64[:, t + 1] * expected[:, t + 1]
    zero_carry = a.new_zeros(2, width)
    adjoints = launch_scan(a, grad_h, zero_carry, reverse=True, dtype=torch.float32)
    assert relative_max_error(adjoints, expected) < 1e-5


@needs_kernel
def test_gradients_go_only_where_they_are_needed():
    a, b, h0 = scan_inputs(2, 9, 3, device=KERNEL_DEVICE)
    b.requires_grad_(True)
    diagonal_scan(a, b, h0, backend="triton").sum().backward()
    assert a.grad is None and h0.grad is None
    expected = gradients(sequential_scan, a.double(), b.double(), h0.double(), torch.ones_like(a).double())[1]
    assert relative_max_error(b.grad, expected) < 1e-5


@needs_kernel
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bfloat16", "float16"])
def test_half_precision_gradients_keep_their_dtype(dtype):
    a, b, h0 = scan_inputs(2, 33, 5, seed=5, dtype=dtype, device=KERNEL_DEVICE)
    mine, expected = triton_and_float64_gradients(a, b, h0)
    for gradient, reference in zip(mine, expected):
        assert gradient.dtype == dtype
        assert rms_relative_error(gradient, reference) < HALF_RMS_TOLERANCE


@needs_kernel
def test_integer_valued_scan_is_exact():
    """Gates in {-1, 0, 1} and small integer inputs keep every fp32 product and sum exact."""
    generator = torch.Generator().manual_seed(1)
    a = torch.randint(-1, 2, (3, 65, 5), generator=generator).float()
    b = torch.randint(-3, 4, (3, 65, 5), generator=generator).float()
    h0 = torch.randint(-3, 4, (3, 5), generator=generator).float()
    expected = sequential_scan(a, b, h0)
    states = diagonal_scan(a.to(KERNEL_DEVICE), b.to(KERNEL_DEVICE), h0.to(KERNEL_DEVICE), backend="triton")
    assert torch.equal(states.cpu(), expected)


@needs_kernel
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bfloat16", "float16"])
def test_half_precision_inputs_accumulate_in_float32(dtype):
    """From h0 = 2 / eps, where ``dtype`` steps by 2, add 1 per step: h_t = 2 / eps + t.

    A state kept in ``dtype`` would stay stuck at 2 / eps (adding 1 rounds back to it); a float32
    state counts every step, and only the final store to ``dtype`` rounds.
    """
    start = 2.0 / torch.finfo(dtype).eps
    steps = 64
    a = torch.ones(1, steps, 1, dtype=dtype, device=KERNEL_DEVICE)
    b = torch.ones_like(a)
    h0 = torch.full((1, 1), start, dtype=dtype, device=KERNEL_DEVICE)
    states = diagonal_scan(a, b, h0, backend="triton")
    exact = start + torch.arange(1, steps + 1, dtype=torch.float64)
    assert states.dtype == dtype
    # within one unit in the last place: the GPU rounds to nearest, the interpreter truncates
    assert bool(((states.double().flatten().cpu() - exact).abs() < torch.finfo(dtype).eps * exact).all())


@needs_kernel
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bfloat16", "float16"])
def test_half_precision_states_are_within_one_unit_in_the_last_place(dtype):
    a, b, h0 = scan_inputs(2, 33, 5, seed=7, dtype=dtype, device=KERNEL_DEVICE)
    expected = float64_reference(a, b, h0)
    states = diagonal_scan(a, b, h0, backend="triton").double()
    bound = torch.finfo(dtype).eps * expected.abs() + 1e-5 * expected.abs().max()
    assert bool(((states - expected).abs() <= bound).all())


@needs_kernel
def test_non_contiguous_inputs_give_the_same_states():
    a, b, h0 = scan_inputs(2, 20, 3, seed=3, device=KERNEL_DEVICE)
    a_strided, b_strided = (x.transpose(1, 2).contiguous().transpose(1, 2) for x in (a, b))
    assert not a_strided.is_contiguous()
    strided_states = diagonal_scan(a_strided, b_strided, h0, backend="triton")
    assert torch.equal(strided_states, diagonal_scan(a, b, h0, backend="triton"))


def test_reference_backend_is_sequential_scan():
    a, b, h0 = scan_inputs(2, 9, 3)
    assert resolve_backend("reference", a) == "reference"
    assert torch.equal(diagonal_scan(a, b, h0, backend="reference"), sequential_scan(a, b, h0))


@on_gpu
def test_auto_uses_triton_on_the_gpu_with_or_without_gradients():
    a, b, h0 = scan_inputs(2, 9, 3, device="cuda")
    assert resolve_backend("auto", a) == "triton"
    a.requires_grad_(True)
    assert resolve_backend("auto", a) == "triton"
    states = diagonal_scan(a, b, h0)
    assert states.grad_fn is not None


def test_auto_keeps_float64_on_the_reference():
    a, _, _ = scan_inputs(1, 5, 2, dtype=torch.float64, device=KERNEL_DEVICE or "cpu")
    assert resolve_backend("auto", a) == "reference"


@needs_kernel
def test_auto_keeps_cpu_tensors_on_the_reference_even_where_the_interpreter_runs():
    a, b, h0 = scan_inputs(2, 9, 3)
    assert resolve_backend("auto", a) == "reference"
    assert torch.equal(diagonal_scan(a, b, h0), sequential_scan(a, b, h0))


@needs_kernel
def test_forced_triton_refuses_what_it_cannot_do():
    a, b, h0 = scan_inputs(1, 5, 2, device=KERNEL_DEVICE)
    with pytest.raises(TypeError, match="float32, bfloat16 or float16"):
        diagonal_scan(a.double(), b.double(), h0.double(), backend="triton")


def test_forced_triton_refuses_tensors_on_the_wrong_device(monkeypatch):
    monkeypatch.setattr(kernel_backend, "triton_mode", lambda: "compiled")
    a, b, h0 = scan_inputs(1, 5, 2)
    assert resolve_backend("auto", a) == "reference"
    with pytest.raises(RuntimeError, match="compiled mode, which runs on cuda tensors"):
        diagonal_scan(a, b, h0, backend="triton")


def test_without_triton_everything_uses_the_reference(monkeypatch):
    monkeypatch.setattr(kernel_backend, "triton_mode", lambda: "unavailable")
    a, b, h0 = scan_inputs(1, 5, 2)
    assert torch.equal(diagonal_scan(a, b, h0), sequential_scan(a, b, h0))
    with pytest.raises(RuntimeError, match="Triton cannot run here"):
        diagonal_scan(a, b, h0, backend="triton")
    ok, message = smoke_test()
    assert ok and "on reference" in message


@pytest.mark.parametrize(
    "make_inputs, error, match",
    [
        (lambda: (torch.ones(1, 4, 2), torch.ones(1, 4, 3), None), ValueError, "shape"),
        (lambda: (torch.ones(1, 0, 2), torch.ones(1, 0, 2), None), ValueError, "T >= 1"),
        (lambda: (torch.full((1, 4, 2), float("nan")), torch.ones(1, 4, 2), None), ValueError, "non-finite"),
        (lambda: (torch.ones(1, 4, 2, dtype=torch.int64), torch.ones(1, 4, 2), None), TypeError, "floating"),
        (lambda: (torch.ones(1, 4, 2), torch.ones(1, 4, 2, dtype=torch.float16), None), TypeError, "dtype"),
        (lambda: (torch.ones(4, 2), torch.ones(4, 2), None), ValueError, "3 dimensions"),
        (lambda: (torch.ones(1, 4, 2), torch.ones(1, 4, 2), torch.ones(1, 3)), ValueError, "h0"),
    ],
    ids=["shape_mismatch", "empty_time", "nan", "integer", "dtype_mismatch", "two_dims", "bad_h0"],
)
@pytest.mark.parametrize("backend", ["auto", "triton", "reference"])
def test_bad_inputs_raise_clear_errors(make_inputs, error, match, backend):
    if backend == "triton" and match == "non-finite":
        pytest.skip("the kernel reads no value unless asked: test_non_finite_inputs_flow_through_unless_checked")
    with pytest.raises(error, match=match):
        diagonal_scan(*make_inputs(), backend=backend)


def test_unknown_backend_is_refused():
    a, b, h0 = scan_inputs(1, 3, 2)
    with pytest.raises(ValueError, match="backend must be one of"):
        diagonal_scan(a, b, h0, backend="cuda")


def test_smoke_test_passes_and_reports_its_error():
    ok, message = smoke_test()
    assert ok, message
    assert "passed on" in message and "max relative error" in message


def large_inputs(dtype, gates_near_one=False):
    a, b, h0 = scan_inputs(4, 4096, 512, seed=11, device="cuda")
    if gates_near_one:  # slow decay: states grow like a random walk, the carry crosses 64 blocks
        a = 0.99 + 0.01 * a.abs()
    return a.to(dtype), b.to(dtype), h0.to(dtype)


@on_gpu
def test_gpu_kernels_are_compiled():
    assert triton_mode() == "compiled", triton_status()


@on_gpu
@pytest.mark.parametrize("gates_near_one", [False, True], ids=["gates_in_-1_1", "gates_near_1"])
def test_compiled_kernel_float32_on_a_large_input(gates_near_one):
    a, b, h0 = large_inputs(torch.float32, gates_near_one)
    assert resolve_backend("auto", a) == "triton"
    states = diagonal_scan(a, b, h0)
    expected = float64_reference(a, b, h0)
    assert relative_max_error(states, expected) < 1e-5
    assert rms_relative_error(states, expected) < 1e-6


@on_gpu
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bfloat16", "float16"])
@pytest.mark.parametrize("gates_near_one", [False, True], ids=["gates_in_-1_1", "gates_near_1"])
def test_compiled_kernel_half_precision_on_a_large_input(dtype, gates_near_one):
    a, b, h0 = large_inputs(dtype, gates_near_one)
    states = diagonal_scan(a, b, h0)
    assert states.dtype == dtype
    assert rms_relative_error(states, float64_reference(a, b, h0)) < 5e-3


@on_gpu
@pytest.mark.parametrize(
    "dtype, rms_tolerance", [(torch.float32, 1e-6), (torch.bfloat16, 5e-3)], ids=["float32", "bfloat16"]
)
def test_compiled_gradients_on_a_large_input(dtype, rms_tolerance):
    a, b, h0 = large_inputs(dtype)
    mine, expected = triton_and_float64_gradients(a, b, h0)
    for name, gradient, reference in zip(("a", "b", "h0"), mine, expected):
        assert gradient.dtype == dtype, name
        assert rms_relative_error(gradient, reference) < rms_tolerance, name
    if dtype == torch.float32:
        assert all(relative_max_error(g, r) < 1e-5 for g, r in zip(mine, expected))


@on_gpu
@pytest.mark.parametrize("programs_per_multiprocessor", [0, 10**9], ids=["wide_blocks", "narrow_blocks"])
@pytest.mark.parametrize("steps, width", [(63, 33), (64, 1), (65, 5), (129, 33), (1000, 100)])
def test_compiled_kernel_with_either_block_shape(monkeypatch, programs_per_multiprocessor, steps, width):
    """The GPU picks its blocks by how many programs it gets; force each choice on awkward shapes."""
    monkeypatch.setattr(kernel_scan, "PROGRAMS_PER_MULTIPROCESSOR", programs_per_multiprocessor)
    a, b, h0 = scan_inputs(3, steps, width, seed=steps + width, device="cuda")
    assert relative_max_error(diagonal_scan(a, b, h0), float64_reference(a, b, h0)) < 1e-5


@on_gpu
def test_compiled_mode_refuses_cpu_tensors():
    a, b, h0 = scan_inputs(1, 5, 2)
    assert resolve_backend("auto", a) == "reference"
    with pytest.raises(RuntimeError, match="runs on cuda tensors"):
        diagonal_scan(a, b, h0, backend="triton")
