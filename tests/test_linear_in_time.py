"""Every loop over time reads its steps through ``unbind``: no index op per step in the autograd graph.

Each ``x[:, t]`` inside a loop adds a node whose backward writes a gradient as large as all of ``x``, so a
loop of T such reads costs T^2 in the backward pass (18 s against 0.1 s at T = 4 096 for the scan);
``unbind``'s backward stacks the T gradients once. ``benchmarks/bench_cpu.py`` measures the times; this
test checks the cause, in the graph, so that it holds on any machine.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from lrnn_course import chunkwise, deltanet, deltaproduct, mamba, scan

STEPS = 37  # no other dimension of the inputs below has this length
CHUNK = 8  # chunk_delta_rule's loop runs over ceil(37 / 8) = 5 chunks, another length no dimension has


def reads_per_step(output: torch.Tensor, length: int) -> list[str]:
    """The index nodes (select, slice) of ``output``'s graph that pick from a dimension of ``length``."""
    found, seen, stack = [], set(), [output.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        if type(node).__name__ in ("SelectBackward0", "SliceBackward0"):
            if node._saved_self_sym_sizes[node._saved_dim] == length:
                found.append(type(node).__name__)
        stack.extend(next_node for next_node, _ in node.next_functions)
    return found


def delta_inputs(n_householder: int | None = None) -> list[torch.Tensor]:
    """q, k, v, β, α of a (gated) delta rule, or of DeltaProduct with ``n_householder`` sub-steps."""
    rng = torch.Generator().manual_seed(0)
    sub = () if n_householder is None else (n_householder,)
    q = F.normalize(torch.randn(2, STEPS, 3, 4, generator=rng), dim=-1)
    k = F.normalize(torch.randn(2, STEPS, *sub, 3, 4, generator=rng), dim=-1)
    v = torch.randn(2, STEPS, *sub, 3, 6, generator=rng)
    beta, alpha = 2 * torch.rand(2, STEPS, *sub, 3, generator=rng), torch.rand(2, STEPS, 3, generator=rng)
    return [x.requires_grad_() for x in (q, k, v, beta, alpha)]


def scan_inputs() -> list[torch.Tensor]:
    rng = torch.Generator().manual_seed(1)
    return [
        x.requires_grad_() for x in (torch.rand(2, STEPS, 3, generator=rng), torch.randn(2, STEPS, 3, generator=rng))
    ]


def selective_inputs() -> list[torch.Tensor]:
    rng = torch.Generator().manual_seed(2)
    u, delta = torch.randn(2, STEPS, 3, generator=rng), torch.rand(2, STEPS, 3, generator=rng)
    A_log, B, C = torch.randn(3, 4, generator=rng), torch.randn(2, STEPS, 4, generator=rng), torch.randn(2, STEPS, 4)
    return [x.requires_grad_() for x in (u, delta, A_log, B, C)]


LOOPS = {
    "sequential_scan": (lambda: scan.sequential_scan(*scan_inputs()), STEPS),
    "chunked_scan (its carry over chunks)": (
        lambda: scan.chunked_scan(*scan_inputs(), chunk_size=CHUNK),
        math.ceil(STEPS / CHUNK),
    ),
    "selective_scan": (lambda: mamba.selective_scan(*selective_inputs()), STEPS),
    "delta_rule": (lambda: deltanet.delta_rule(*delta_inputs())[0], STEPS),
    "dense_delta_rule": (lambda: deltanet.dense_delta_rule(*delta_inputs())[0], STEPS),
    "delta_product": (lambda: deltaproduct.delta_product(*delta_inputs(n_householder=2))[0], STEPS),
    "chunk_delta_rule (its loop over chunks)": (
        lambda: chunkwise.chunk_delta_rule(*delta_inputs(), chunk_size=CHUNK)[0],
        math.ceil(STEPS / CHUNK),
    ),
}


@pytest.mark.parametrize("name", LOOPS)
def test_loops_read_their_steps_without_one_index_op_per_step(name):
    run, length = LOOPS[name]
    output = run()
    assert output.requires_grad
    assert reads_per_step(output, length) == [], f"{name} indexes its inputs step by step"


def test_the_graph_walk_finds_a_loop_over_x_t():
    """The detector itself: the loop the scans used before, a[:, t] and b[:, t], is found once per step."""
    a, b = scan_inputs()
    h, states = torch.zeros(2, 3), []
    for t in range(STEPS):
        h = a[:, t] * h + b[:, t]
        states.append(h)
    assert len(reads_per_step(torch.stack(states, dim=1), STEPS)) == 2 * STEPS
