"""GEMM lowering of every layer type, derived by hand (DESIGN.md §3: m, n, k, groups)."""

import pytest
from conftest import QUANT

import accelsim


def _one(write, layer: str, batch: int = 1):
    text = f"name: w\nbatch: {batch}\nquant: {QUANT}\nlayers:\n  - {layer}\n"
    return accelsim.load_workload(write("w.yaml", text)).layers[0]


def test_conv_stride_padding_dilation(write):
    """in 3x(15x17), 8 filters 3x5, stride (2,3), pads [1,2,0,1], dilation (2,1):
    out_h = floor((15 + 1 + 0 - 2*(3-1) - 1)/2) + 1 = floor(11/2) + 1 = 6
    out_w = floor((17 + 2 + 1 - 1*(5-1) - 1)/3) + 1 = floor(15/3) + 1 = 6
    m = 2 (batch) * 6 * 6 = 72, n = 8, k = 3*3*5 = 45, groups = 1."""
    layer = _one(
        write,
        "{name: c, type: conv, in_channels: 3, out_channels: 8, in_h: 15, in_w: 17, "
        "kernel: [3, 5], stride: [2, 3], padding: [1, 2, 0, 1], dilation: [2, 1]}",
        batch=2,
    )
    assert (layer.m, layer.n, layer.k, layer.groups) == (72, 8, 45, 1)
    assert layer.spec.out_shape() == (8, 6, 6)


def test_grouped_and_depthwise_conv(write):
    """Grouped: 32 -> 64 channels in 4 groups, 3x3, pad 1 on 14x14: m = 196,
    n = 64/4 = 16, k = 32/4*9 = 72, groups 4. Depthwise 32 channels: n = 1, k = 9, groups 32."""
    g = _one(write, "{name: g, type: conv, in_channels: 32, out_channels: 64, in_h: 14, "
                    "in_w: 14, kernel: 3, padding: 1, groups: 4}")  # fmt: skip
    assert (g.m, g.n, g.k, g.groups) == (196, 16, 72, 4)
    d = _one(write, "{name: d, type: conv, in_channels: 32, out_channels: 32, in_h: 14, "
                    "in_w: 14, kernel: 3, padding: 1, stride: 2, groups: 32}")  # fmt: skip
    assert (d.m, d.n, d.k, d.groups) == (49, 1, 9, 32)
    assert d.macs == 49 * 9 * 32


def test_fc_and_tokens(write):
    """fc on 128 tokens of 768 features -> 3072, batch 2: m = 256, n = 3072, k = 768."""
    layer = _one(write, "{name: f, type: fc, in_features: 768, out_features: 3072, tokens: 128}", 2)
    assert (layer.m, layer.n, layer.k, layer.groups) == (256, 3072, 768, 1)


def test_batched_matmul(write):
    """attention scores: 12 heads of [128 x 64] @ [64 x 128], batch 3: groups = 36."""
    layer = _one(write, "{name: s, type: matmul, m: 128, n: 128, k: 64, count: 12}", 3)
    assert (layer.m, layer.n, layer.k, layer.groups) == (128, 128, 64, 36)


@pytest.mark.parametrize(
    ("layer", "elements"),
    [
        ("{name: p, type: pool, pool: max, channels: 4, in_h: 8, in_w: 8, kernel: 2, stride: 2}",
         4 * 4 * 4 * 4),
        ("{name: e, type: eltwise, op: add, shape: [4, 8, 8]}", 256),
        ("{name: s, type: softmax, rows: 12, cols: 128}", 1536),
        ("{name: n, type: layernorm, rows: 128, cols: 768}", 128 * 768),
    ],
)  # fmt: skip
def test_non_gemm_layers_keep_their_work(write, layer, elements):
    """Non-GEMM layers are never dropped: no GEMM dims, their element count kept.
    Max pool 2x2/2 on 4x8x8: 4x4x4 outputs, each reads 4 inputs = 256."""
    lowered = _one(write, layer)
    assert (lowered.macs, lowered.elements, lowered.is_gemm) == (0, elements, False)


def test_assignment_overrides_precision(write):
    text = (
        f"name: w\nbatch: 1\nquant: {QUANT}\nlayers:\n"
        "  - {name: a, type: fc, in_features: 8, out_features: 8}\n"
        "  - {name: b, type: fc, in_features: 8, out_features: 8, quant: {a_bits: 4}}\n"
    )
    wl = accelsim.load_workload(write("w.yaml", text))
    assert wl.layer("b").quant.a_bits == 4
    asg = accelsim.load_assignment(write("s.yaml", "name: s\nassignment:\n  b: {w_bits: 2}\n"))
    out = asg.apply(wl)
    assert (out.layer("b").quant.a_bits, out.layer("b").quant.w_bits) == (4, 2)
    assert out.layer("a").quant == wl.layer("a").quant
