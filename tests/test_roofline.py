"""benchmarks/roofline.py counts what a kernel moves and computes: checked on kernels whose cost is known by hand."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch
from kernel_support import needs_kernel

from lrnn_course._triton import tl, triton, triton_mode
from lrnn_course.kernels import chunk_delta_product, chunk_delta_rule, delta, delta_split, diagonal_scan

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "roofline.py"
pytestmark = [
    needs_kernel,
    pytest.mark.skipif(triton_mode() != "interpreter", reason="the counter instruments Triton's interpreter"),
]


def load_roofline():
    spec = importlib.util.spec_from_file_location("roofline", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["roofline"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


roofline = load_roofline()

if triton is not None:

    @triton.jit
    def copy_kernel(source_ptr, target_ptr, size, BLOCK: tl.constexpr):
        offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        mask = offsets < size
        tl.store(target_ptr + offsets, tl.load(source_ptr + offsets, mask=mask), mask=mask)

    @triton.jit
    def matmul_kernel(a_ptr, b_ptr, c_ptr, M: tl.constexpr, N: tl.constexpr, K: tl.constexpr):
        rows, columns, inner = tl.arange(0, M), tl.arange(0, N), tl.arange(0, K)
        a = tl.load(a_ptr + rows[:, None] * K + inner[None, :])
        b = tl.load(b_ptr + inner[:, None] * N + columns[None, :])
        tl.store(c_ptr + rows[:, None] * N + columns[None, :], tl.dot(a, b) * 2.0)


def test_a_copy_moves_its_bytes_twice_and_masked_elements_not_at_all():
    size, block = 100, 32  # 4 programs, the last one mostly masked off
    source = torch.randn(size)
    target = torch.empty_like(source)
    with roofline.counting("all") as counter:
        copy_kernel[(triton.cdiv(size, block),)](source, target, size, BLOCK=block)
    (launch,) = counter.launches
    assert (launch.kernel, launch.programs) == ("copy_kernel", 4)
    assert (launch.traffic.loaded, launch.traffic.stored) == (4 * size, 4 * size)
    assert torch.equal(target, source), "counting must not change what the kernel computes"


def test_a_dot_counts_two_flops_per_multiply_add_at_the_operands_precision():
    m, n, k = 16, 32, 64
    a, b = torch.randn(m, k, dtype=torch.bfloat16), torch.randn(k, n, dtype=torch.bfloat16)
    c = torch.empty(m, n)
    with roofline.counting("all") as counter:
        matmul_kernel[(1,)](a, b, c, M=m, N=n, K=k)
    traffic = counter.launches[0].traffic
    assert traffic.tensor_flops == {"bf16": 2 * m * n * k}
    assert traffic.core_flops == m * n  # the doubling
    assert traffic.bytes == 2 * (m * k + k * n) + 4 * m * n


def test_one_program_times_the_grid_equals_every_program_run():
    """The scaling the script relies on, forward and backward: the scan and the single-kernel gated delta rule at
    awkward sizes, and the split kernels where their programs over chunks are alike, as in the benchmark (T a
    multiple of the chunk)."""
    torch.manual_seed(0)
    runs = [
        (diagonal_scan, lambda: roofline.scan_inputs((2, 21, 32))),
        (delta.chunk_delta_rule, lambda: roofline.delta_inputs((2, 37, 2, 16), 1, gated=True)),
        (chunk_delta_rule, lambda: roofline.delta_inputs((1, 128, 2, 16), 1, gated=True)),
    ]
    for function, make_inputs in runs:
        inputs = make_inputs()
        first = roofline.count_forward_and_backward(function, inputs, "first")
        every = roofline.count_forward_and_backward(function, inputs, "all")
        for sampled, counted in zip(first, every, strict=True):
            assert [launch.programs for launch in sampled.launches] == [launch.programs for launch in counted.launches]
            assert min(launch.programs for launch in sampled.launches) > 1
            assert [launch.traffic for launch in sampled.launches] == [launch.traffic for launch in counted.launches]


@pytest.mark.parametrize("gated", [False, True], ids=["plain", "gated"])
def test_the_split_serial_kernels_do_only_the_state_update_each_chunk(gated):
    """Issue 24: no substitution, no W, U or Q Kᵀ on the serial path. Per chunk and value block, the state pass
    multiplies twice (W S_0, then Kᵀ v_new) and the state-gradient kernel three times (K dS', Qᵀ dO, Wᵀ dv_new),
    each a (C, D_k) by (D_k, value block) product or its transpose, 2·C·D_k·block FLOPs."""
    batch, steps, heads, dim = shape = (1, 256, 2, 32)
    configuration = delta_split.HALF_PRECISION_LAUNCH  # what count_pass launches, as on an H100
    chunk, block_v = configuration.chunk, min(configuration.state_block_v, dim)
    chunks = steps // chunk
    assert chunks > 1
    forward, backward = roofline.count_forward_and_backward(
        chunk_delta_rule, roofline.delta_inputs(shape, 1, gated=gated)
    )
    serial = {
        launch.kernel: launch
        for counted in (forward, backward)
        for launch in counted.launches
        if launch.kernel in ("_delta_rule_state_pass_kernel", "_delta_rule_state_grad_kernel")
    }
    products = {"_delta_rule_state_pass_kernel": 2, "_delta_rule_state_grad_kernel": 3}
    assert set(serial) == set(products)
    for kernel, serial_launch in serial.items():
        assert serial_launch.programs == batch * heads * dim // block_v
        per_chunk = sum(serial_launch.traffic.tensor_flops.values()) / (serial_launch.programs * chunks)
        assert per_chunk == products[kernel] * 2 * chunk * dim * block_v, kernel


def test_the_split_kernels_multiply_as_k4_counts_them():
    """``delta_split.multiply_adds_per_chunk``, K4 §4's model, against the tl.dots each kernel runs (2 FLOPs a
    multiply-add), per chunk and head, at the GPU's chunk and blocks with D_k = D_v = 64 (two key blocks)."""
    batch, steps, heads, dim = shape = (1, 128, 1, 64)
    launch = delta_split.HALF_PRECISION_LAUNCH._replace(grad_block_k=32)
    model = {work.kernel: work.multiply_adds for work in delta_split.multiply_adds_per_chunk(launch, dim)}
    chunks = steps // launch.chunk
    original = delta_split.HALF_PRECISION_LAUNCH
    delta_split.HALF_PRECISION_LAUNCH = launch
    try:
        forward, backward = roofline.count_forward_and_backward(
            chunk_delta_rule, roofline.delta_inputs(shape, 1, gated=False)
        )
    finally:
        delta_split.HALF_PRECISION_LAUNCH = original
    counted = {
        launch.kernel: sum(launch.traffic.tensor_flops.values()) / (2 * chunks * batch * heads)
        for counted_pass in (forward, backward)
        for launch in counted_pass.launches
    }
    assert counted == model


# The benchmark's batch and width, so the scan takes the launch path of the benchmark (enough programs for
# every multiprocessor), and few steps: only one program runs, and the bytes an element do not depend on T.
SCAN_LIKE_THE_BENCHMARK = (8, 24, 2048)


def test_the_scan_forward_moves_twelve_bytes_an_element():
    batch, steps, width = SCAN_LIKE_THE_BENCHMARK
    forward, _ = roofline.count_forward_and_backward(diagonal_scan, roofline.scan_inputs(SCAN_LIKE_THE_BENCHMARK))
    assert min(launch.programs for launch in forward.launches) >= 2 * 132
    # Reads a and b, writes h, all float32; plus the initial state h0 (B, D) once.
    assert forward.total().bytes == 12 * batch * steps * width + 4 * batch * width
    assert forward.total().tensor_flops == {}


def test_the_scan_backward_moves_at_most_twenty_bytes_an_element():
    """Reads a, h and dL/dh, writes dL/da and dL/db: a fused reverse scan needs no more (issue 24)."""
    batch, steps, width = SCAN_LIKE_THE_BENCHMARK
    _, backward = roofline.count_forward_and_backward(diagonal_scan, roofline.scan_inputs(SCAN_LIKE_THE_BENCHMARK))
    per_row = 4 * 4 * batch * width  # h0, dL/dh0 and what a kernel may keep per column, in float32
    assert backward.total().bytes <= 20 * batch * steps * width + per_row


def test_delta_product_runs_no_pytorch_operation_that_delta_net_does_not():
    """The split kernels read DeltaProduct's sub-steps where they lie: no zero queries, unit gates or n_h·T
    outputs are built around them (by interleaving, 268 MB of zeros_like and copy_ at the benchmark shape)."""
    operations = {}
    for n_householder, function in ((1, chunk_delta_rule), (2, chunk_delta_product)):
        inputs = roofline.delta_inputs((1, 64, 2, 16), n_householder, gated=True)
        forward, backward = roofline.count_forward_and_backward(function, inputs)
        operations[n_householder] = forward.torch_operations, backward.torch_operations
    assert operations[2] == operations[1]
    assert sum(operations[1][0].values()) <= 4 * 4 * 2 * 16 * 16  # a few state-sized casts: (B, H, D, D) floats


def test_the_committed_table_gives_a_floor_for_every_benchmark_row():
    floors = roofline.read_floors()
    expected = {
        "diagonal scan": {"8×4096×2048"},
        "delta rule": {"8×2048×16×128", "4×8192×16×128"},
        "gated delta rule": {"8×2048×16×128", "4×8192×16×128"},
        "DeltaProduct n_h=2": {"8×2048×16×128", "4×8192×16×128"},
        "delta rule, single kernel": {"8×2048×16×128"},
        "gated delta rule, single kernel": {"8×2048×16×128"},
    }
    for kernel, shapes_of_kernel in expected.items():
        for pass_name in ("forward", "backward", "forward+backward"):
            shapes = {shape for (name, shape, passed) in floors if name == kernel and passed == pass_name}
            assert shapes == shapes_of_kernel, (kernel, pass_name)
    assert all(floor > 0 for floor in floors.values())
