"""The shipped networks: MAC totals against published figures, shapes that chain.

Published totals (multiply-accumulates, batch 1, 224x224 unless said otherwise):
  AlexNet (torchvision)          0.714 G  torchvision AlexNet_Weights.IMAGENET1K_V1 '_ops'
  VGG-16 (torchvision, no BN)   15.47 G   torchvision VGG16_Weights.IMAGENET1K_V1 '_ops'
  ResNet-18 (torchvision)        1.814 G  torchvision ResNet18_Weights.IMAGENET1K_V1 '_ops'
  ResNet-50 v1.5 (torchvision)   4.089 G  torchvision ResNet50_Weights.IMAGENET1K_V1 '_ops'
  MobileNet-V1 1.0-224           569 M    Howard et al., arXiv:1704.04861, Table 8
  MobileNet-V2 1.0-224           300 M    Sandler et al., CVPR 2018, Table 4
  BERT-base encoder, seq 128     derived: 12 x (4*128*768*768 + 2*128*768*3072
                                 + 2*12*128*128*64) = 12 x 931,135,488
"""

import pytest
from conftest import ROOT

import accelsim

PUBLISHED = {
    "alexnet": 0.714e9,
    "vgg16": 15.47e9,
    "resnet18": 1.814e9,
    "resnet50": 4.089e9,
    "mobilenet_v1": 569e6,
    "mobilenet_v2": 300e6,
    "bert_base": 12 * (4 * 128 * 768 * 768 + 2 * 128 * 768 * 3072 + 2 * 12 * 128 * 128 * 64),
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_mac_total_within_one_percent(name):
    wl = accelsim.load_workload(ROOT / "workloads" / f"{name}.yaml")
    assert abs(wl.macs / PUBLISHED[name] - 1) < 0.01


def _size(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def _chains(producer, consumer) -> bool:
    """Output of ``producer`` is the input of ``consumer``: equal shapes, a flatten of a
    [C, H, W] map into an fc's features, or a [tokens, features] <-> heads reshape."""
    out, need = producer.spec.out_shape(), consumer.spec.in_shape()
    if out == need:
        return True
    if producer.type == "matmul":  # [heads, t, d] as [heads * t, d] or merged to [t, heads * d]
        return _size(out) == _size(need) and (out[-1] == need[-1] or out[1] == need[0])
    if consumer.type == "fc" and len(out) == 3:
        return _size(out) == consumer.spec.in_features and consumer.spec.tokens == 1
    return False


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_every_input_shape_equals_its_producers_output(name):
    wl = accelsim.load_workload(ROOT / "workloads" / f"{name}.yaml")
    by_name = {layer.name: layer for layer in wl.layers}
    checked = 0
    for layer in wl.layers:
        for src in layer.spec.input_from:
            producer = by_name[src]
            if layer.type == "matmul" and len(layer.spec.input_from) == 2:
                continue  # operands of attention matmuls: [tokens, features] split into heads
            assert _chains(producer, layer), (
                src,
                producer.spec.out_shape(),
                layer.name,
                layer.spec.in_shape(),
            )
            checked += 1
    assert checked >= len(wl.layers) - 1 - sum(la.type == "matmul" for la in wl.layers)


POOL_WL = """name: p
batch: 2
quant: {{a_bits: 8, w_bits: 8, acc_bits: 32, out_bits: 8, a_encoding: uint, w_encoding: int}}
layers:
  - {{name: c, type: conv, in_channels: 3, out_channels: 4, in_h: 10, in_w: 10, kernel: 1}}
  - {{name: p, type: pool, pool: max, channels: 4, in_h: 10, in_w: 10, {pool}, input_from: [c]}}
"""


@pytest.mark.parametrize(
    ("pool", "out_hw", "elements"),
    [
        # out (10 - 1*(2-1) - 1)//1 + 1 = 9 by (10 - 2*(2-1) - 1)//2 + 1 = 4: 2*4*36 windows
        # of 2x2 = 4 taps (the window spans 2x3, the middle column is skipped)
        ("kernel: 2, stride: [1, 2], dilation: [1, 2]", (9, 4), 2 * 4 * 36 * 4),
        # 3x3 taps spanning 5x5, pads 2: (10 + 4 - 5)//1 + 1 = 10; 2*4*100 windows x 9 taps
        ("kernel: 3, padding: 2, dilation: 2", (10, 10), 2 * 4 * 100 * 9),
        # no dilation: as before, (10-2)//2+1 = 5 by 5, 2*4*25 x 4
        ("kernel: 2, stride: 2", (5, 5), 2 * 4 * 25 * 4),
    ],
)  # fmt: skip
def test_pool_dilation(write, pool, out_hw, elements):
    """A pool's ``dilation`` (ONNX MaxPool/AveragePool ``dilations``): out as conv's rule,
    ``out = (in + pads - dilation (k - 1) - 1) // stride + 1``, and ``kh kw`` reads per
    window. Before: no such field (an unknown-key error)."""
    wl = accelsim.load_workload(write("w.yaml", POOL_WL.format(pool=pool)))
    layer = wl.layer("p")
    assert (layer.spec.out_hw, layer.elements) == (out_hw, elements)


@pytest.mark.parametrize(
    ("pool", "match"),
    [
        ("kernel: 2, dilation: 0", r"layers\.1\.dilation: out of range; found 0"),
        ("kernel: 2, dilation: [1, 2, 3]", r"layers\.1\.dilation"),
        # the dilated window spans 5: padding 5 would leave a window wholly in the padding
        ("kernel: 3, dilation: 2, padding: 5", r"layers\.1: padding \[5, 5, 5, 5\] must be smaller than the dilated kernel \[5, 5\] on each side$"),
        # spans (6-1)*2+1 = 11 > 10 + 0 padding
        ("kernel: 6, dilation: 2", r"layers\.1: the kernel does not fit the padded input: output would be \(0, 0\)$"),
    ],
)  # fmt: skip
def test_pool_dilation_checked(write, pool, match):
    """``dilation`` is validated as a conv's (positive int or pair), and the window checks use
    the dilated span ``dilation (k - 1) + 1``."""
    with pytest.raises(accelsim.ConfigError, match=match) as info:
        accelsim.load_workload(write("w.yaml", POOL_WL.format(pool=pool)))
    assert len(info.value.problems) == 1
