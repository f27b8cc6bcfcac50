"""Generate the shipped network workloads (``workloads/*.yaml``) deterministically.

Plain Python (no torch, no accelsim import): each network's variant is described in code
below, following the paper / torchvision definition named in its ``description`` and
``source``. The script

1. builds every network as a list of layer dicts whose keys are exactly the workload-file
   fields (see ``accelsim/workload.py``),
2. renders them as readable YAML (one layer per block, flow-style lists for pairs),
3. re-reads the rendered text and checks it from scratch: unique names, ``input_from`` names
   earlier layers, every layer's input shape matches each producer's output shape (rules in
   ``check_chaining``), nothing but the last layer is left unconsumed, and the GEMM MAC total
   is within 1% of the published figure,
4. writes the files (or, with ``--check``, only compares them with what is on disk) and
   prints a per-network table.

Any failed check raises ``SystemExit`` with the reasons.

Usage::

    python analysis/make_workloads.py            # (re)write workloads/*.yaml
    python analysis/make_workloads.py --check    # verify the shipped files are up to date
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "workloads"
TOLERANCE = 0.01  # relative MAC error allowed against the published figure

QUANT_UINT = {  # post-ReLU activations are non-negative
    "a_bits": 8,
    "w_bits": 8,
    "acc_bits": 32,
    "out_bits": 8,
    "a_encoding": "uint",
    "w_encoding": "int",
}
QUANT_INT = {**QUANT_UINT, "a_encoding": "int"}  # signed activations (linear outputs, LN, GELU)


# --------------------------------------------------------------------------- shape rules


def window_out(size: int, kernel: int, stride: int, lo: int, hi: int, dil: int = 1) -> int:
    return (size + lo + hi - dil * (kernel - 1) - 1) // stride + 1


def out_shape(layer: dict) -> tuple[int, ...]:
    t = layer["type"]
    if t in ("conv", "pool"):
        (kh, kw), (sh, sw) = layer["kernel"], layer["stride"]
        top, left, bottom, right = layer["padding"]
        dh, dw = layer.get("dilation", [1, 1])
        oh = window_out(layer["in_h"], kh, sh, top, bottom, dh)
        ow = window_out(layer["in_w"], kw, sw, left, right, dw)
        c = layer["out_channels"] if t == "conv" else layer["channels"]
        return (c, oh, ow)
    if t == "fc":
        return (layer["tokens"], layer["out_features"])
    if t == "matmul":
        return (layer["count"], layer["m"], layer["n"])
    if t == "eltwise":
        return tuple(layer["shape"])
    if t in ("softmax", "layernorm"):
        return (layer["rows"], layer["cols"])
    raise ValueError(f"unknown layer type {t!r}")


def in_shape(layer: dict) -> tuple[int, ...]:
    t = layer["type"]
    if t == "conv":
        return (layer["in_channels"], layer["in_h"], layer["in_w"])
    if t == "pool":
        return (layer["channels"], layer["in_h"], layer["in_w"])
    if t == "fc":
        return (layer["tokens"], layer["in_features"])
    if t == "matmul":
        return (layer["count"], layer["m"], layer["k"])
    return out_shape(layer)  # eltwise, softmax, layernorm keep their shape


def gemm(layer: dict, batch: int) -> tuple[int, int, int, int] | None:
    """(m, n, k, groups) of a GEMM layer, None for non-GEMM work."""
    t = layer["type"]
    if t == "conv":
        kh, kw = layer["kernel"]
        _, oh, ow = out_shape(layer)
        g = layer["groups"]
        return batch * oh * ow, layer["out_channels"] // g, layer["in_channels"] // g * kh * kw, g
    if t == "fc":
        return batch * layer["tokens"], layer["out_features"], layer["in_features"], 1
    if t == "matmul":
        return layer["m"], layer["n"], layer["k"], batch * layer["count"]
    return None


def macs(workload: dict) -> int:
    total = 0
    for layer in workload["layers"]:
        g = gemm(layer, workload["batch"])
        if g is not None:
            m, n, k, groups = g
            total += m * n * k * groups
    return total


# --------------------------------------------------------------------------- builder


class Net:
    """Appends layers in execution order; input geometry is taken from the producer."""

    def __init__(self, name: str, in_shape: tuple[int, ...]):
        self.name = name
        self.input_shape = in_shape
        self.layers: list[dict] = []
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.types: dict[str, str] = {}

    def _src_shape(self, src: str | None) -> tuple[int, ...]:
        return self.input_shape if src is None else self.shapes[src]

    def _add(self, layer: dict) -> str:
        if layer["name"] in self.shapes:
            raise SystemExit(f"{self.name}: duplicate layer name {layer['name']!r}")
        self.layers.append(layer)
        self.shapes[layer["name"]] = out_shape(layer)
        self.types[layer["name"]] = layer["type"]
        return layer["name"]

    def conv(self, name, src, out_channels, kernel, stride=1, padding=None, groups=1):
        c, h, w = self._src_shape(src)
        if padding is None:  # PyTorch-style symmetric "same-ish" padding k // 2
            padding = [kernel // 2] * 4
        return self._add(
            {
                "name": name,
                "type": "conv",
                "in_channels": c,
                "out_channels": out_channels,
                "in_h": h,
                "in_w": w,
                "kernel": [kernel, kernel],
                "stride": [stride, stride],
                "padding": list(padding),
                "dilation": [1, 1],
                "groups": groups,
                "input_from": [] if src is None else [src],
            }
        )

    def pool(self, name, src, pool, kernel=None, stride=None, padding=0):
        c, h, w = self._src_shape(src)
        if pool == "global_avg":
            kernel, stride, padding = [h, w], [1, 1], [0, 0, 0, 0]
        else:
            kernel, stride, padding = [kernel, kernel], [stride, stride], [padding] * 4
        return self._add(
            {
                "name": name,
                "type": "pool",
                "pool": pool,
                "channels": c,
                "in_h": h,
                "in_w": w,
                "kernel": kernel,
                "stride": stride,
                "padding": padding,
                "input_from": [src],
            }
        )

    def fc(self, name, src, out_features, in_features=None, tokens=None):
        shape = self._src_shape(src)
        if len(shape) == 2:
            tokens_, features = shape
        elif self.types[src] == "matmul":  # [count, m, n] heads merged into [m, count * n]
            tokens_, features = shape[1], shape[0] * shape[2]
        else:  # flatten a [C, H, W] map into one vector
            tokens_, features = 1, shape[0] * shape[1] * shape[2]
        return self._add(
            {
                "name": name,
                "type": "fc",
                "in_features": in_features or features,
                "out_features": out_features,
                "tokens": tokens or tokens_,
                "input_from": [src],
            }
        )

    def matmul(self, name, srcs, m, n, k, count):
        return self._add(
            {
                "name": name,
                "type": "matmul",
                "m": m,
                "n": n,
                "k": k,
                "count": count,
                "input_from": list(srcs),
            }
        )

    def add(self, name, srcs):
        return self._add(
            {
                "name": name,
                "type": "eltwise",
                "op": "add",
                "shape": list(self.shapes[srcs[0]]),
                "input_from": list(srcs),
            }
        )

    def rowop(self, name, src, kind):
        shape = self._src_shape(src)
        rows = 1
        for d in shape[:-1]:
            rows *= d
        return self._add(
            {
                "name": name,
                "type": kind,
                "rows": rows,
                "cols": shape[-1],
                "input_from": [] if src is None else [src],
            }
        )


def same_pad(size: int, kernel: int, stride: int) -> list[int]:
    """TensorFlow 'SAME' padding in ONNX order [top, left, bottom, right] (square input)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    lo = total // 2
    return [lo, lo, total - lo, total - lo]


# --------------------------------------------------------------------------- networks

IMAGE = (3, 224, 224)


def alexnet() -> dict:
    net = Net("alexnet", IMAGE)
    x = net.conv("conv1", None, 64, 11, stride=4, padding=[2, 2, 2, 2])
    x = net.pool("pool1", x, "max", 3, 2)
    x = net.conv("conv2", x, 192, 5)
    x = net.pool("pool2", x, "max", 3, 2)
    x = net.conv("conv3", x, 384, 3)
    x = net.conv("conv4", x, 256, 3)
    x = net.conv("conv5", x, 256, 3)
    x = net.pool("pool5", x, "max", 3, 2)  # [256, 6, 6]; AdaptiveAvgPool2d((6, 6)) = identity
    x = net.fc("fc6", x, 4096)
    x = net.fc("fc7", x, 4096)
    net.fc("fc8", x, 1000)
    return {
        "name": "alexnet",
        "description": (
            "AlexNet, torchvision variant (single-tower layout of Krizhevsky 2014, not the "
            "two-GPU 96-256-384-384-256 original): convs 64-192-384-256-256 with ReLU, conv1 "
            "11x11 s4 p2, conv2 5x5 p2, conv3-5 3x3 p1, 3x3 s2 max pools after conv1, conv2 and "
            "conv5; FC 9216-4096-4096-1000 (dropout is a no-op at inference). torchvision's "
            "AdaptiveAvgPool2d((6, 6)) is an identity at 224x224 and is omitted. ImageNet "
            "224x224, batch 1, output = logits (no softmax)."
        ),
        "source": (
            "Krizhevsky et al., NIPS 2012; Krizhevsky, arXiv:1404.5997 (2014); "
            "torchvision.models.alexnet; published 0.714 GMAC (torchvision "
            "AlexNet_Weights.IMAGENET1K_V1 meta '_ops' = 'GFLOPS' column of the model docs, "
            "which counts multiply-accumulates)"
        ),
        "batch": 1,
        "quant": QUANT_UINT,
        "layers": net.layers,
        "_published": 0.714e9,
    }


def vgg16() -> dict:
    net = Net("vgg16", IMAGE)
    x = None
    for stage, (channels, convs) in enumerate([(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)]):
        for i in range(convs):
            x = net.conv(f"conv{stage + 1}_{i + 1}", x, channels, 3)
        x = net.pool(f"pool{stage + 1}", x, "max", 2, 2)
    # x is [512, 7, 7]; torchvision's AdaptiveAvgPool2d((7, 7)) is an identity here
    x = net.fc("fc6", x, 4096)
    x = net.fc("fc7", x, 4096)
    net.fc("fc8", x, 1000)
    return {
        "name": "vgg16",
        "description": (
            "VGG-16 (configuration D), torchvision variant without BatchNorm: 13 3x3 s1 p1 convs "
            "with ReLU in five stages (64x2, 128x2, 256x3, 512x3, 512x3), each stage ended by a "
            "2x2 s2 max pool; FC 25088-4096-4096-1000 (dropout is a no-op at inference). "
            "torchvision's AdaptiveAvgPool2d((7, 7)) is an identity at 224x224 and is omitted. "
            "ImageNet 224x224, batch 1, output = logits (no softmax)."
        ),
        "source": (
            "Simonyan & Zisserman, ICLR 2015 (Table 1, config D); torchvision.models.vgg16; "
            "published 15.47 GMAC (torchvision VGG16_Weights.IMAGENET1K_V1 meta '_ops' = "
            "'GFLOPS' column of the model docs, which counts multiply-accumulates)"
        ),
        "batch": 1,
        "quant": QUANT_UINT,
        "layers": net.layers,
        "_published": 15.47e9,
    }


def _resnet(name: str, block: str, depths: list[int], image=IMAGE, classes: int = 1000) -> Net:
    """torchvision ResNet: BasicBlock (expansion 1) or Bottleneck v1.5 (expansion 4). With a
    32x32 ``image``, the CIFAR stem of allenai/hidden-networks ``models/resnet_cifar.py`` (one
    3x3 stride-1 conv, no max pool) instead of the 7x7 stride-2 conv and 3x3 max pool."""
    net = Net(name, image)
    if image[1] == 32:
        x = net.conv("conv1", None, 64, 3)
    else:
        x = net.conv("conv1", None, 64, 7, stride=2)
        x = net.pool("pool1", x, "max", 3, 2, 1)
    expansion = 1 if block == "basic" else 4
    in_ch = 64
    for stage, blocks in enumerate(depths):
        planes = 64 * 2**stage
        for b in range(blocks):
            stride = 2 if (stage > 0 and b == 0) else 1
            p = f"layer{stage + 1}.{b}"
            if block == "basic":
                y = net.conv(f"{p}.conv1", x, planes, 3, stride=stride)
                y = net.conv(f"{p}.conv2", y, planes, 3)
            else:  # v1.5: the stride sits in the 3x3 conv, not the first 1x1
                y = net.conv(f"{p}.conv1", x, planes, 1)
                y = net.conv(f"{p}.conv2", y, planes, 3, stride=stride)
                y = net.conv(f"{p}.conv3", y, planes * expansion, 1)
            shortcut = x
            if stride != 1 or in_ch != planes * expansion:
                shortcut = net.conv(f"{p}.downsample", x, planes * expansion, 1, stride=stride)
            x = net.add(f"{p}.add", [y, shortcut])  # ReLU after the add is fused
            in_ch = planes * expansion
    x = net.pool("avgpool", x, "global_avg")
    net.fc("fc", x, classes)
    return net


def resnet18() -> dict:
    net = _resnet("resnet18", "basic", [2, 2, 2, 2])
    return {
        "name": "resnet18",
        "description": (
            "ResNet-18 as in torchvision: 7x7 s2 stem conv, 3x3 s2 max pool, BasicBlock stages "
            "[2, 2, 2, 2] with 64-128-256-512 channels, stride 2 in the first 3x3 conv of stages "
            "2-4 with a 1x1 stride-2 projection shortcut (downsample), identity shortcuts "
            "elsewhere; global average pool and FC 512-1000. BatchNorm folded into the convs, "
            "ReLU fused. ImageNet 224x224, batch 1, output = logits (no softmax)."
        ),
        "source": (
            "He et al., CVPR 2016 (Table 1); torchvision.models.resnet18; published 1.814 GMAC "
            "(torchvision ResNet18_Weights.IMAGENET1K_V1 meta '_ops' = 'GFLOPS' column of the "
            "model docs, which counts multiply-accumulates)"
        ),
        "batch": 1,
        "quant": QUANT_UINT,
        "layers": net.layers,
        "_published": 1.814e9,
    }


def resnet50() -> dict:
    net = _resnet("resnet50", "bottleneck", [3, 4, 6, 3])
    return {
        "name": "resnet50",
        "description": (
            "ResNet-50 v1.5 as in torchvision (stride 2 in the 3x3 conv of each downsampling "
            "bottleneck), ImageNet 224x224, batch 1: 7x7 s2 stem conv, 3x3 s2 max pool, "
            "bottleneck stages [3, 4, 6, 3] (1x1 -> 3x3 -> 1x1, width 64-128-256-512, expansion "
            "4) with a 1x1 projection shortcut (downsample) in the first block of every stage; "
            "global average pool and FC 2048-1000. BatchNorm folded into the convs, ReLU fused; "
            "output = logits (no softmax)."
        ),
        "source": (
            "He et al., CVPR 2016; torchvision.models.resnet50; published 4.09 GMAC (torchvision "
            "ResNet50_Weights.IMAGENET1K_V1 meta '_ops' = 4.089, the 'GFLOPS' column of the "
            "model docs, which counts multiply-accumulates)"
        ),
        "batch": 1,
        "quant": QUANT_UINT,
        "layers": net.layers,
        "_published": 4.089e9,
    }


# Hidden networks (edge-popup, Ramanujan et al., CVPR 2020) as Hiddenite runs them (Hirose
# et al., ISSCC 2022): every conv and FC weight is a generated +-1 (edge-popup's "signed
# constant" init) gated by a supermask; activations 8-bit (assumed: Hiddenite's activation
# width is not in public text we could read).
QUANT_HIDDEN = {**QUANT_UINT, "w_bits": 1, "w_encoding": "binary"}
CIFAR = (3, 32, 32)


def resnet18_cifar100_hidden() -> dict:
    net = _resnet("resnet18_cifar100_hidden", "basic", [2, 2, 2, 2], CIFAR, 100)
    return {
        "name": "resnet18_cifar100_hidden",
        "description": (
            "Hidden-network ResNet-18 for CIFAR-100 (32x32, batch 1), the CIFAR ResNet of "
            "allenai/hidden-networks models/resnet_cifar.py (cResNet18): 3x3 stride-1 stem conv "
            "(no max pool), BasicBlock stages [2, 2, 2, 2] with 64-128-256-512 channels, 1x1 "
            "projection shortcuts, global average pool, FC 512-100. Weights: generated +-1 "
            "(signed constant) under a supermask (w_bits 1, binary); activations uint8 "
            "(assumed). BatchNorm folded, ReLU fused."
        ),
        "source": (
            "Ramanujan et al., CVPR 2020 (edge-popup), allenai/hidden-networks "
            "models/resnet_cifar.py; network for Hiddenite's CIFAR-100 point assumed (Hirose et "
            "al., ISSCC 2022); GEMM MACs derived by hand: 555,468,800"
        ),
        "batch": 1,
        "quant": QUANT_HIDDEN,
        "layers": net.layers,
        "_published": 555_468_800,
    }


def resnet50_hidden() -> dict:
    built = resnet50()
    return {
        **built,
        "name": "resnet50_hidden",
        "description": (
            "Hidden-network ResNet-50 for ImageNet: the layers of workloads/resnet50.yaml "
            "(torchvision v1.5, 224x224, batch 1) with generated +-1 (signed constant) weights "
            "under a supermask (w_bits 1, binary) and uint8 activations (assumed)."
        ),
        "source": (
            "Ramanujan et al., CVPR 2020 (edge-popup on ImageNet ResNet-50); network for "
            "Hiddenite's ImageNet point assumed (Hirose et al., ISSCC 2022); " + built["source"]
        ),
        "quant": QUANT_HIDDEN,
    }


def mobilenet_v1() -> dict:
    net = Net("mobilenet_v1", IMAGE)

    def conv_same(name, src, out_ch, k, s, groups=1):
        _, h, _ = net._src_shape(src)
        return net.conv(name, src, out_ch, k, stride=s, padding=same_pad(h, k, s), groups=groups)

    x = conv_same("conv0", None, 32, 3, 2)
    # (stride of the depthwise conv, pointwise output channels); Howard et al. Table 1
    blocks = [(1, 64), (2, 128), (1, 128), (2, 256), (1, 256), (2, 512)]
    blocks += [(1, 512)] * 5 + [(2, 1024), (1, 1024)]
    for i, (stride, out_ch) in enumerate(blocks, start=1):
        ch = net.shapes[x][0]
        x = conv_same(f"conv{i}.dw", x, ch, 3, stride, groups=ch)
        x = conv_same(f"conv{i}.pw", x, out_ch, 1, 1)
    x = net.pool("avgpool", x, "global_avg")
    x = net.fc("fc", x, 1000)
    net.rowop("softmax", x, "softmax")
    return {
        "name": "mobilenet_v1",
        "description": (
            "MobileNet-V1 1.0-224 (width multiplier 1.0, resolution 224) per Howard et al. "
            "Table 1: 3x3 s2 stem conv (32 ch) then 13 depthwise-separable blocks, each a 3x3 "
            "depthwise conv (groups = channels) and a 1x1 pointwise conv, pointwise widths "
            "64-128-128-256-256-512x6-1024-1024, stride 2 in the depthwise convs of blocks 2, 4, "
            "6 and 12 (the table's second 'Conv dw / s2' at 7x7 is a typo: stride 1, as in the "
            "TF-slim reference); 7x7 global average pool, FC 1024-1000 and softmax as listed in "
            "the table. Padding is TensorFlow 'SAME' as in the reference implementation: "
            "[0, 0, 1, 1] for stride-2 3x3 convs, 1 on every side for stride-1 3x3 convs. "
            "BatchNorm folded, ReLU fused. ImageNet 224x224, batch 1."
        ),
        "source": (
            "Howard et al., 'MobileNets', arXiv:1704.04861 (2017), Table 1 (architecture); "
            "published 569 M mult-adds for 1.0 MobileNet-224 (Tables 4, 6, 7 and 8)"
        ),
        "batch": 1,
        "quant": QUANT_UINT,
        "layers": net.layers,
        "_published": 569e6,
    }


def mobilenet_v2() -> dict:
    net = Net("mobilenet_v2", IMAGE)
    x = net.conv("conv0", None, 32, 3, stride=2)
    settings = [  # t (expansion), c (out channels), n (repeats), s (first stride); Table 2
        (1, 16, 1, 1),
        (6, 24, 2, 2),
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 1),
        (6, 160, 3, 2),
        (6, 320, 1, 1),
    ]
    index = 0
    for t, c, n, s in settings:
        for r in range(n):
            index += 1
            stride = s if r == 0 else 1
            in_ch = net.shapes[x][0]
            p = f"block{index}"
            y = x
            if t != 1:
                y = net.conv(f"{p}.expand", y, in_ch * t, 1)
            hidden = net.shapes[y][0]
            y = net.conv(f"{p}.dw", y, hidden, 3, stride=stride, groups=hidden)
            y = net.conv(f"{p}.project", y, c, 1)  # linear bottleneck: no activation
            x = net.add(f"{p}.add", [y, x]) if stride == 1 and in_ch == c else y
    x = net.conv("conv_last", x, 1280, 1)
    x = net.pool("avgpool", x, "global_avg")
    net.fc("fc", x, 1000)
    return {
        "name": "mobilenet_v2",
        "description": (
            "MobileNet-V2 1.0-224 as in torchvision (Sandler et al. Table 2): 3x3 s2 stem conv "
            "(32 ch), 17 inverted-residual blocks with (t, c, n, s) = (1, 16, 1, 1), "
            "(6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), "
            "(6, 320, 1, 1), each 1x1 expand (absent in block 1, t = 1) -> 3x3 depthwise "
            "(stride s in the first repeat) -> linear 1x1 project, with a residual add when "
            "stride is 1 and in == out channels; 1x1 conv to 1280, global average pool, FC "
            "1280-1000 (dropout is a no-op). PyTorch padding (1 on every side of 3x3 convs). "
            "BatchNorm folded, ReLU6 fused; activations default to signed because the linear "
            "bottleneck outputs feed the expand convs and residual adds. ImageNet 224x224, "
            "batch 1, output = logits (no softmax)."
        ),
        "source": (
            "Sandler et al., CVPR 2018 (Table 2 architecture; 300 M multiply-adds for "
            "MobileNetV2 1.0-224 in Table 4); torchvision.models.mobilenet_v2, 0.301 GMAC "
            "(MobileNet_V2_Weights.IMAGENET1K_V1 meta '_ops', 'GFLOPS' column of the model docs)"
        ),
        "batch": 1,
        "quant": QUANT_INT,
        "layers": net.layers,
        "_published": 300e6,
    }


BERT_LAYERS, BERT_SEQ, BERT_HIDDEN, BERT_HEADS, BERT_FFN = 12, 128, 768, 12, 3072


def bert_hand_macs() -> int:
    s, h, f, a = BERT_SEQ, BERT_HIDDEN, BERT_FFN, BERT_HEADS
    return BERT_LAYERS * (4 * s * h * h + 2 * s * h * f + 2 * a * s * s * (h // a))


def bert_base() -> dict:
    s, h, f, a = BERT_SEQ, BERT_HIDDEN, BERT_FFN, BERT_HEADS
    d = h // a
    net = Net("bert_base", (s, h))
    x = net.rowop("emb.ln", None, "layernorm")  # LayerNorm of the summed embeddings
    for i in range(BERT_LAYERS):
        p = f"enc{i}"
        q = net.fc(f"{p}.attn.q", x, h)
        k = net.fc(f"{p}.attn.k", x, h)
        v = net.fc(f"{p}.attn.v", x, h)
        y = net.matmul(f"{p}.attn.scores", [q, k], m=s, n=s, k=d, count=a)  # Q K^T per head
        y = net.rowop(f"{p}.attn.softmax", y, "softmax")
        y = net.matmul(f"{p}.attn.context", [y, v], m=s, n=d, k=s, count=a)  # P V per head
        y = net.fc(f"{p}.attn.out", y, h)
        y = net.add(f"{p}.attn.add", [y, x])
        x = net.rowop(f"{p}.attn.ln", y, "layernorm")
        y = net.fc(f"{p}.ffn.fc1", x, f)  # GELU fused
        y = net.fc(f"{p}.ffn.fc2", y, h)
        y = net.add(f"{p}.ffn.add", [y, x])
        x = net.rowop(f"{p}.ffn.ln", y, "layernorm")
    per_layer = (4 * s * h * h, 2 * s * h * f, 2 * a * s * s * d)
    total = bert_hand_macs()
    return {
        "name": "bert_base",
        "description": (
            f"BERT-base encoder (L={BERT_LAYERS}, H={h}, A={a} heads of {d}, FFN {f}), "
            f"sequence length {s}, batch 1. Only the {BERT_LAYERS} encoder layers plus the "
            "embedding LayerNorm are listed: the embedding lookup and sum (word + position + "
            "segment; not a GEMM) and the pooler / task heads are skipped. Per encoder layer: "
            f"Q, K, V, attention-output and the two FFN projections as fc with tokens {s}; "
            f"QK^T scores and softmax.V context as batched matmuls with count {a} (heads; the "
            "scores consume K transposed); residual adds and post-LN layernorms. Bias, GELU, "
            "the 1/sqrt(64) scaling and the (all-valid) attention mask are fused. GEMM MACs by "
            f"hand: {BERT_LAYERS} x [4*{s}*{h}*{h} + 2*{s}*{h}*{f} + 2*{a}*{s}*{s}*{d}] = "
            f"{BERT_LAYERS} x ({per_layer[0]:,} + {per_layer[1]:,} + {per_layer[2]:,}) = "
            f"{BERT_LAYERS} x {sum(per_layer):,} = {total:,} ({total / 1e9:.2f} GMAC, "
            f"{2 * total / 1e9:.2f} GFLOP)."
        ),
        "source": (
            "Devlin et al., NAACL 2019 (BERT-base configuration); Vaswani et al., NeurIPS 2017 "
            "(encoder layer); MAC target = the hand derivation in the description; it agrees "
            "with the ~1.86 GFLOP (= 2 x 931 M MAC) per encoder block at 128 tokens given in "
            "hivam.org/blog/posts/03-bert-model.html (blog post, not peer reviewed)"
        ),
        "batch": 1,
        "quant": QUANT_INT,
        "layers": net.layers,
        "_published": float(total),
    }


NETWORKS = [alexnet, vgg16, resnet18, resnet50, mobilenet_v1, mobilenet_v2, bert_base,
            resnet18_cifar100_hidden, resnet50_hidden]  # fmt: skip
EXPECTED_INPUT = {  # CNNs: IMAGE
    "bert_base": (BERT_SEQ, BERT_HIDDEN),
    "resnet18_cifar100_hidden": CIFAR,
}
EXPECTED_OUTPUT = {  # CNNs: (1, 1000)
    "bert_base": (BERT_SEQ, BERT_HIDDEN),
    "resnet18_cifar100_hidden": (1, 100),
}


# --------------------------------------------------------------------------- YAML rendering

FIELD_ORDER = {
    "conv": [
        "in_channels",
        "out_channels",
        "in_h",
        "in_w",
        "kernel",
        "stride",
        "padding",
        "dilation",
        "groups",
    ],
    "pool": ["pool", "channels", "in_h", "in_w", "kernel", "stride", "padding"],
    "eltwise": ["op", "shape"],
    "fc": ["in_features", "out_features", "tokens"],
    "matmul": ["m", "n", "k", "count"],
    "softmax": ["rows", "cols"],
    "layernorm": ["rows", "cols"],
}
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


def scalar(value) -> str:
    if isinstance(value, bool):
        raise TypeError("booleans are not used in workload files")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        if _PLAIN.fullmatch(value) and value.lower() not in _RESERVED:
            return value
        return json.dumps(value)  # a JSON string is a valid YAML double-quoted scalar
    raise TypeError(f"cannot render {value!r}")


def flow(values) -> str:
    return "[" + ", ".join(scalar(v) for v in values) + "]"


def render(wl: dict) -> str:
    lines = [
        f"# {wl['name']}: generated by analysis/make_workloads.py -- do not edit by hand.",
        f"# {len(wl['layers'])} layers, {macs(wl):,} GEMM MACs at batch {wl['batch']}.",
        f"name: {scalar(wl['name'])}",
        f"description: {json.dumps(wl['description'])}",
        f"source: {json.dumps(wl['source'])}",
        f"batch: {wl['batch']}",
        "quant:",
    ]
    lines += [f"  {key}: {scalar(value)}" for key, value in wl["quant"].items()]
    lines.append("layers:")
    for layer in wl["layers"]:
        keys = ["name", "type", *FIELD_ORDER[layer["type"]], "input_from"]
        if set(keys) != set(layer):
            raise SystemExit(f"{wl['name']}.{layer['name']}: fields {sorted(layer)} != {keys}")
        for j, key in enumerate(keys):
            value = layer[key]
            text = flow(value) if isinstance(value, list | tuple) else scalar(value)
            lines.append(f"{'  - ' if j == 0 else '    '}{key}: {text}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- checks


def _compatible(produced: tuple, producer_type: str, consumer: dict, operand: int) -> bool:
    """Does a producer's output shape feed operand ``operand`` of ``consumer``?

    Exact equality always chains. The reshapes that also chain:
    * flatten: a [C, H, W] map into an fc with tokens 1 and in_features C*H*W ([C, 1, 1] from
      a global pool is the common case; AlexNet/VGG flatten [256, 6, 6] / [512, 7, 7]);
    * head split: [tokens, count*d] into matmul operand A [count, m, k] (tokens m, d k) or
      operand B [count, k, n] (tokens k, d n; or transposed: tokens n, d k, e.g. K^T);
    * head merge: matmul [count, m, n] into an fc with tokens m and in_features count*n;
    * row view: matmul [count, m, n] into a row op with rows count*m and cols n, and a row
      op [count*m, k] into matmul operand A.
    """
    t = consumer["type"]
    if t == "matmul":
        cnt, m, n, k = consumer["count"], consumer["m"], consumer["n"], consumer["k"]
        if operand == 0:
            return produced in ((cnt, m, k), (cnt * m, k), (m, cnt * k))
        if operand == 1:
            return produced in ((cnt, k, n), (k, cnt * n), (n, cnt * k))
        return False
    if t == "eltwise":
        return produced == tuple(consumer["shape"])
    if operand != 0:
        return False
    want = in_shape(consumer)
    if produced == want:
        return True
    if t == "fc" and len(produced) == 3:
        a, b, c = produced
        if producer_type == "matmul":
            return consumer["tokens"] == b and consumer["in_features"] == a * c
        return consumer["tokens"] == 1 and consumer["in_features"] == a * b * c
    if t in ("softmax", "layernorm") and producer_type == "matmul":
        return (consumer["rows"], consumer["cols"]) == (produced[0] * produced[1], produced[2])
    return False


def check_chaining(wl: dict) -> list[str]:
    errors, shapes, types, consumed = [], {}, {}, set()
    name = wl["name"]
    layers = wl["layers"]
    for i, layer in enumerate(layers):
        lname = layer["name"]
        if lname in shapes:
            errors.append(f"{name}.{lname}: duplicate name")
        srcs = layer["input_from"]
        if layer["type"] == "conv" and (
            layer["in_channels"] % layer["groups"] or layer["out_channels"] % layer["groups"]
        ):
            errors.append(f"{name}.{lname}: groups do not divide the channels")
        if not srcs:
            if i != 0:
                errors.append(f"{name}.{lname}: only the first layer may read the network input")
            elif in_shape(layer) != EXPECTED_INPUT.get(name, IMAGE):
                errors.append(f"{name}.{lname}: network input {in_shape(layer)} unexpected")
        max_srcs = 2 if layer["type"] in ("matmul", "eltwise") else 1
        if len(srcs) > max_srcs:
            errors.append(f"{name}.{lname}: {len(srcs)} inputs, at most {max_srcs} allowed")
        if layer["type"] == "matmul" and len(srcs) != 2:
            errors.append(f"{name}.{lname}: a matmul needs both operands named")
        if layer["type"] == "eltwise" and len(srcs) != 2:
            errors.append(f"{name}.{lname}: a residual add needs both operands named")
        for j, src in enumerate(srcs):
            if src not in shapes:
                errors.append(f"{name}.{lname}: input_from {src!r} names no earlier layer")
                continue
            consumed.add(src)
            if not _compatible(shapes[src], types[src], layer, j):
                want = in_shape(layer)
                if layer["type"] == "matmul" and j == 1:  # operand B is [count, k, n]
                    want = (layer["count"], layer["k"], layer["n"])
                errors.append(
                    f"{name}.{lname}: operand {j} from {src} has shape {shapes[src]}, "
                    f"expected {want}"
                )
        shape = out_shape(layer)
        if min(shape) < 1:
            errors.append(f"{name}.{lname}: empty output {shape}")
        shapes[lname] = shape
        types[lname] = layer["type"]
    dangling = [layer["name"] for layer in layers[:-1] if layer["name"] not in consumed]
    if dangling:
        errors.append(f"{name}: outputs never consumed: {dangling}")
    final = out_shape(layers[-1])
    if final != EXPECTED_OUTPUT.get(name, (1, 1000)):
        errors.append(f"{name}: network output {final} unexpected")
    return errors


def check_document(text: str, built: dict) -> list[str]:
    """Re-read the rendered YAML and check it, so the checks cover the shipped bytes."""
    doc = yaml.safe_load(text)
    errors = []
    expected_keys = {"name", "description", "source", "batch", "quant", "layers"}
    if set(doc) != expected_keys:
        errors.append(f"{built['name']}: top-level keys {sorted(doc)}")
    public = {key: value for key, value in built.items() if not key.startswith("_")}
    if json.loads(json.dumps(public)) != doc:
        errors.append(f"{built['name']}: YAML does not round-trip to the built workload")
    errors += check_chaining(doc)
    return errors


# --------------------------------------------------------------------------- main


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="compare with files on disk only")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output directory")
    args = parser.parse_args(argv)

    errors, rows, texts = [], [], {}
    for build in NETWORKS:
        wl = build()
        text = render(wl)
        errors += check_document(text, wl)
        total, published = macs(wl), wl["_published"]
        rel = (total - published) / published
        if abs(rel) > TOLERANCE:
            errors.append(f"{wl['name']}: {total:,} MACs is {rel:+.2%} from {published:,.0f}")
        rows.append((wl["name"], len(wl["layers"]), total, published, rel))
        texts[args.out / f"{wl['name']}.yaml"] = text

    stale = []
    for path, text in texts.items():  # nothing is written unless every network passed
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path))
        elif not errors:
            args.out.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")

    print(f"{'network':<14}{'layers':>8}{'GEMM MACs':>18}{'published':>18}{'rel. err':>10}")
    for name, count, total, published, rel in rows:
        print(f"{name:<14}{count:>8}{total:>18,}{published:>18,.0f}{rel:>+10.3%}")
    if errors:
        print("\nFAILED checks:", *errors, sep="\n  ", file=sys.stderr)
        raise SystemExit(1)
    if stale:
        print("\nout of date (rerun without --check):", *stale, sep="\n  ", file=sys.stderr)
        raise SystemExit(1)
    print("\nall chaining checks passed" + ("; files up to date" if args.check else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
