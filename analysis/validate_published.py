"""Shipped designs against published chips: prints and writes
analysis/out/published_vs_simulated.csv (design, quantity, kind, published, simulated,
rel_error, source).

    python analysis/validate_published.py

``kind``: ``calibrated`` (a point a model parameter was fitted to), ``predicted`` (a published
number the frozen model predicts), ``derived`` (follows from the formula the model
implements: a consistency check, not validation). Every simulated number comes from
`accelsim.simulate` on a shipped config (arch_configs/unpu.yaml, bitfusion.yaml; FINN:
finn_zc706.yaml in the layer-pipelined mode, see `finn_rows`).
Published figures and what could not be verified: analysis/published/chips.yaml.

UNPU energy (analysis/published/README.md). The operating point of the two published
efficiencies is not in the public text we could read. Assumed: both at one point, the
bottom of the range, 0.63 V, with the clock of unpu.yaml (200 MHz; the clock only sets the
leakage per cycle). Reasons: the abstract credits both figures to "the wide operating
range", after "it makes the UNPU operate on the lower voltage and frequency ... to increase
energy efficiency"; and at one voltage and clock the two figures imply that the chip draws
(7372 / 345.6) / (50.6 / 3.08) = 1.30x more power in the 1-bit mode, close to the 4/3 more
activations it consumes per cycle, while 16 bits at 1.1 V and 1 bit at 0.63 V (same clock)
would need the 1-bit mode to switch 1.30 x (1.1 / 0.63)^2 = 4.0x the 16-bit mode's energy
per cycle. Efficiency is on-chip (DRAM energy excluded: the chip's own measured power), on
VGG-16's conv layers at 16-bit activations. The one free parameter,
``technology.mac_pj_scale`` (a scale on the PE's LUT actions), is fitted on the 16-bit point
and then frozen. The technology table's leakage density makes that fit impossible at 0.63 V
(the script says why), so the same fit and prediction are also reported on dynamic energy
only, with the best 1-bit efficiency the frozen model reaches over any share of leakage.

Energy-efficiency rows (UNPU and Hiddenite TOPS/W, Hiddenite's weight traffic) simulate with
the mapper's ``energy`` objective (`ENERGY`): a TOPS/W figure is a chip's efficiency, so
each layer is mapped for the least energy.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import accelsim
from accelsim.arch import with_changes
from accelsim.workload import make_assignment

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "analysis" / "out" / "published_vs_simulated.csv"
UNPU_SRC = "Lee et al., UNPU, IEEE JSSC 54(1) 2019, abstract"
ENERGY = "energy"  # the mapper's objective for efficiency rows (module docstring)
UNPU_V = 0.63  # supply of both published efficiencies (assumed: module docstring)
BF_SRC = "Sharma et al., BitFusion, ISCA 2018; hsharma35/bitfusion accelerator.py get_perf_factor"


def _workload(name: str, a_bits: int, w_bits: int, w_encoding: str = "int", gemm_only=True):
    """A shipped workload at uniform precision (conv layers only when ``gemm_only``)."""
    wl = accelsim.load_workload(ROOT / "workloads" / f"{name}.yaml")
    quant = {"a_bits": a_bits, "w_bits": w_bits, "acc_bits": 32, "a_encoding": "int",
             "w_encoding": w_encoding}  # fmt: skip
    uniform = make_assignment("uniform", {la.name: quant for la in wl.layers if la.is_gemm})
    wl = uniform.apply(wl)
    if gemm_only:
        from dataclasses import replace

        wl = replace(wl, layers=tuple(la for la in wl.layers if la.type == "conv"))
    return wl


def _pe_workload(w_bits: int, w_encoding: str):
    """One fc layer at 16-bit activations whose reduction (4,608 = 12 x 384) fills every
    group of 3 or 4 activations a LUT PE packs: the PE's own energy per MAC."""
    from accelsim.workload import workload_from_doc
    from accelsim.yamlio import parse_yaml

    quant = (f"{{a_bits: 16, w_bits: {w_bits}, acc_bits: 32, out_bits: 16, a_encoding: int, "
             f"w_encoding: {w_encoding}}}")  # fmt: skip
    layer = "{name: fc, type: fc, in_features: 4608, out_features: 64, tokens: 64}"
    text = f"name: pe_check\nbatch: 1\nquant: {quant}\nlayers:\n  - {layer}\n"
    return workload_from_doc(parse_yaml(text, ""))


def on_chip_tops_per_w(report) -> float:
    """2 MACs / (energy - DRAM energy): the chip's own efficiency."""
    dram = sum(v for (c, _), v in report.energy_breakdown.items() if c == "dram")
    return 2 * report.total["macs"] / (report.total["energy_pj"] - dram)


def dynamic_tops_per_w(report) -> float:
    """2 MACs / on-chip switching energy (DRAM and leakage excluded)."""
    off = sum(v for (c, _), v in report.energy_breakdown.items() if c in ("dram", "chip"))
    return 2 * report.total["macs"] / (report.total["energy_pj"] - off)


def _per_mac(report, component: str) -> float:
    """Energy per MAC (pJ) of the components named ``component`` or ending in it."""
    parts = report.energy_breakdown.items()
    return sum(v for (c, _), v in parts if c.endswith(component)) / report.total["macs"]


def pe_pj_per_mac(report) -> float:
    """PE energy per MAC (the PE's own actions: MACs, LUT reads and builds, ...)."""
    pe = sum(
        v
        for (c, a), v in report.energy_breakdown.items()
        if c == "pe" and a != "operand_move_bytes"
    )
    return pe / report.total["macs"]


def unpu_rows() -> list[dict]:
    arch = accelsim.load_arch(ROOT / "arch_configs" / "unpu.yaml")
    rows = []
    for bits, published, kind in ((16, 345.6, "calibrated"), (8, 691.2, "derived"),
                                  (4, 1382.4, "derived"), (2, 2764.8, "derived"),
                                  (1, 7372.0, "calibrated")):  # fmt: skip
        enc = "binary" if bits == 1 else "int"
        peak = accelsim.simulate(arch, _workload("vgg16", 16, bits, enc)).total["peak_tops"]
        source = UNPU_SRC if kind == "calibrated" else "345.6 GOPS x 16 / w_bits (bit-serial law)"
        rows.append(
            _row("unpu", f"peak GOPS at {bits}-bit weights", kind, published, peak * 1e3, source)
        )

    # energy: both published points at 0.63 V (module docstring); fit mac_pj_scale on the
    # 16-bit point, freeze it, predict the 1-bit point
    low = with_changes(arch, {"technology.voltage_v": UNPU_V})
    wl16, wl1 = _workload("vgg16", 16, 16), _workload("vgg16", 16, 1, "binary")
    src = UNPU_SRC + f"; both points assumed at {UNPU_V} V, 200 MHz (module docstring)"
    for label, efficiency in (("", on_chip_tops_per_w), (", dynamic only", dynamic_tops_per_w)):
        scale = _fit_scale(low, wl16, 3.08, efficiency)
        frozen = with_changes(low, {"technology.mac_pj_scale": scale})
        r16, r1 = (accelsim.simulate(frozen, wl, objective=ENERGY) for wl in (wl16, wl1))
        if scale == SCALE_FLOOR:
            _warn_uncalibrated(frozen, r16)
        rows.append(_row("unpu", f"TOPS/W at 16-bit weights{label}", "calibrated", 3.08,
                         efficiency(r16), src))  # fmt: skip
        rows.append(_row("unpu", f"TOPS/W at 1-bit weights{label}", "predicted", 50.6,
                         efficiency(r1), src))  # fmt: skip
    # Leakage as a share x of the 16-bit energy (UNPU's is not published): the fit gives the
    # PE what x and the SRAM leave; from 16 to 1 bit, leakage per MAC falls with the cycle
    # ratio, the PE's energy with its own ratio. The 1-bit energy is linear in x, so the best
    # 1-bit efficiency over all x is at an end: x = 0 (dynamic only, above) or the PE -> 0
    # with leakage filling the rest of the 16-bit budget.
    sram16, sram1 = (_per_mac(r, "_sram") for r in (r16, r1))
    ratio_cycles = r16.total["cycles"] / r1.total["cycles"]
    heavy = 2 / (sram1 + (2 / 3.08 - sram16) / ratio_cycles)
    rows.append(_row("unpu", "TOPS/W at 1-bit weights, best over any leakage share", "derived",
                     50.6, max(efficiency(r1), heavy),
                     f"max(dynamic only, 2 / (SRAM_1 + (2 / 3.08 - SRAM_16) / {ratio_cycles:.2f})),"
                     " SRAM_b = SRAM pJ/MAC, 16 / 1-bit cycle ratio"))  # fmt: skip

    # the LUT PE against a fixed-point MAC array of the same technology (published savings):
    # the PEs alone, on a layer whose reduction fills every LUT group (VGG-16's 64-channel
    # convs leave a third of a 3-activation group empty per pixel and tap)
    mac_arch = with_changes(frozen, {"pe": {"kind": "int_mac", "max_a_bits": 16, "max_w_bits": 16}})
    for bits, saving in ((16, 23.1), (8, 27.2), (4, 41.0), (1, 53.6)):
        enc = "binary" if bits == 1 else "int"
        wl = _pe_workload(bits, enc)
        lut = pe_pj_per_mac(accelsim.simulate(frozen, wl, objective=ENERGY))
        fixed = pe_pj_per_mac(accelsim.simulate(mac_arch, wl, objective=ENERGY))
        rows.append(_row("unpu", f"PE energy saving vs fixed-point MAC at {bits}-bit (%)",
                         "predicted", saving, 100 * (1 - lut / fixed), UNPU_SRC))  # fmt: skip
    return rows


SCALE_FLOOR, SCALE_CEILING = 1e-3, 1e3


def _fit_scale(arch, wl, target: float, efficiency) -> float:
    """mac_pj_scale that makes ``efficiency`` (TOPS/W of a report) of ``wl`` equal ``target``
    (bisection on log scale); ``SCALE_FLOOR`` when even that floor leaves the chip short."""

    def eff(scale):
        return efficiency(
            accelsim.simulate(
                with_changes(arch, {"technology.mac_pj_scale": scale}), wl, objective=ENERGY
            )
        )

    if eff(SCALE_FLOOR) < target:
        return SCALE_FLOOR
    lo, hi = SCALE_FLOOR, SCALE_CEILING
    for _ in range(60):
        mid = (lo * hi) ** 0.5
        lo, hi = (mid, hi) if eff(mid) > target else (lo, mid)
    return (lo * hi) ** 0.5


def _warn_uncalibrated(arch, report) -> None:
    """Why the 16-bit point cannot be reached: leakage against UNPU's whole power budget."""
    leak_pj = report.energy_breakdown[("chip", "leakage")]
    leak_mw = leak_pj / report.total["cycles"] * arch.clock_hz * 1e-9
    budget_mw = 345.6 / 3.08  # 345.6 GOPS at 3.08 TOPS/W, at the full 200 MHz
    print(
        f"warning: UNPU's 16-bit point (3.08 TOPS/W) cannot be calibrated at {UNPU_V} V: the "
        f"technology table's leakage (BitFusion's 45 nm synthesis density, node-scaled) gives "
        f"this {report.total['area_mm2']:.2f} mm^2 design {leak_mw:.0f} mW of leakage, more "
        f"than UNPU's whole power at that point ({budget_mw:.0f} mW at 200 MHz, less at any "
        f"lower clock); with the PE's energy scaled to 1/1000 the model reaches "
        f"{on_chip_tops_per_w(report):.2f} TOPS/W. UNPU's process leaks less; its leakage "
        f"is not published, so the rows marked 'dynamic only' leave leakage out"
    )


def bitfusion_rows() -> list[dict]:
    arch = accelsim.load_arch(ROOT / "arch_configs" / "bitfusion.yaml")
    rows = []
    for a, w in ((8, 8), (8, 4), (4, 4), (4, 2), (2, 2)):
        peak = accelsim.simulate(arch, _workload("vgg16", a, w)).total["peak_tops"]
        published = 0.512 * (8 // max(a, 2)) * (8 // max(w, 2))
        rows.append(_row("bitfusion", f"peak TOPS at a{a}/w{w}", "derived", published, peak,
                         BF_SRC + "; 16x32 fusion units at 500 MHz (bf_e_conf.ini)"))  # fmt: skip
    return rows


def _row(design, quantity, kind, published, simulated, source) -> dict:
    return {
        "design": design, "quantity": quantity, "kind": kind, "published": published,
        "simulated": round(float(simulated), 6),
        "rel_error": round(float(simulated) / published - 1, 6) if published else None,
        "source": source,
    }  # fmt: skip


HIDDENITE_SRC = (
    "Hirose et al., Hiddenite, ISSCC 2022, title ('34.8-to-16.0TOPS/W for CIFAR-100 and ImageNet')"
)


def hiddenite_rows() -> list[dict]:
    """Hiddenite (arch_configs/hiddenite.yaml): on-chip TOPS/W calibrated on CIFAR-100,
    frozen, ImageNet predicted; off-chip weight traffic against int8 and binary weights.

    Assumed (none of it is in public text we could read; analysis/published/chips.yaml):
    the networks (CIFAR-100: hidden-network ResNet-18, workloads/resnet18_cifar100_hidden;
    ImageNet: hidden-network ResNet-50, workloads/resnet50_hidden; +-1 weights, uint8
    activations), one operating point for both figures (the title gives them together), and
    every hiddenite.yaml parameter its description lists. Efficiency is on-chip (DRAM energy
    excluded: a chip's measured power), 2 ops per MAC, as for UNPU.

    The one free parameter is ``s``, the ratio of Hiddenite's on-chip energy to accelsim's
    technology tables (BitFusion's 45 nm synthesis, Horowitz's SRAM, node-scaled to 40 nm):
    neither the supply, the clock, the buffers nor the process flavour (which sets leakage)
    is published, so no single physical knob is known to be the right one. ``s`` scales every
    on-chip action and leakage alike, so the prediction is the frozen model's ImageNet /
    CIFAR-100 ratio times 34.8.
    """
    arch = accelsim.load_arch(ROOT / "arch_configs" / "hiddenite.yaml")
    cifar = accelsim.load_workload(ROOT / "workloads" / "resnet18_cifar100_hidden.yaml")
    imagenet = accelsim.load_workload(ROOT / "workloads" / "resnet50_hidden.yaml")
    cifar_report = accelsim.simulate(arch, cifar, objective=ENERGY)
    imagenet_report = accelsim.simulate(arch, imagenet, objective=ENERGY)
    eff_cifar = on_chip_tops_per_w(cifar_report)
    eff_imagenet = on_chip_tops_per_w(imagenet_report)
    s = eff_cifar / 34.8  # frozen from here on
    assumed = (
        f"; on-chip energy scale s = {s:.4f} fitted on CIFAR-100; networks assumed: "
        "hidden ResNet-18 (CIFAR-100), hidden ResNet-50 (ImageNet)"
    )
    rows = [
        _row("hiddenite", "TOPS/W, CIFAR-100 (hidden ResNet-18)", "calibrated", 34.8,
             eff_cifar / s, HIDDENITE_SRC + assumed),
        _row("hiddenite", "TOPS/W, ImageNet (hidden ResNet-50)", "predicted", 16.0,
             eff_imagenet / s, HIDDENITE_SRC + assumed),
        _row("hiddenite", "TOPS/W ratio ImageNet / CIFAR-100 (no calibration)", "predicted",
             round(16.0 / 34.8, 4), eff_imagenet / eff_cifar, HIDDENITE_SRC),
        _row("hiddenite", "TOPS/W ratio ImageNet/CIFAR-100, with DRAM energy",
             "predicted", round(16.0 / 34.8, 4),
             imagenet_report.total["tops_per_w"] / cifar_report.total["tops_per_w"],
             HIDDENITE_SRC + "; whether the published figures count off-chip energy is not "
             "stated in public text"),
    ]  # fmt: skip

    # off-chip weight traffic of the ImageNet network: supermask vs int8 and binary weights
    mask = arch.spec.weights.supermask
    dense = with_changes(arch, {"weights": {"source": "dram"}, "pe.max_w_bits": 8})
    cases = (
        (f"supermask d={mask.density:g} {mask.encoding}", arch, imagenet,
         mask.bits_per_weight),
        ("int8 dense", dense, _workload("resnet50_hidden", 8, 8, gemm_only=False), 8),
        ("BNN (binary weights)", dense, imagenet, 1),
    )  # fmt: skip
    traffic = {}
    for label, design, wl, bits in cases:
        report = accelsim.simulate(design, wl, objective=ENERGY)
        traffic[label] = float(report.layers["dram_weights_read_bytes"].sum())
        rows.append(_row("hiddenite", f"ResNet-50 DRAM weight MB, {label}", "derived",
                         None, traffic[label] / 1e6,
                         f"{bits:.4g} bits per weight, refetches chosen by the tiling search; "
                         "no published figure"))  # fmt: skip
    hidden, int8, bnn = traffic.values()
    h = mask.bits_per_weight
    for other, bits, label in ((int8, 8, "int8 dense"), (bnn, 1, "BNN")):
        rows.append(_row("hiddenite", f"weight traffic hidden / {label}", "derived",
                         round(h / bits, 6), hidden / other,
                         f"H({mask.density:g}) / {bits} bits"))  # fmt: skip
    return rows


FINN_SRC = "Umuroglu et al., FINN, FPGA 2017 (arXiv 1612.07119), abstract"
FINN_ASSUMED = (
    "; 200 MHz (NeuraLUT, Andronic & Constantinides, FPL 2024, Table III, lists FINN SFC-max "
    "at 200 MHz; the FINN paper body was not readable); folding not public: searched under "
    "LFC-max's 24,704 lanes (arch_configs/finn_zc706.yaml)"
)
LFC_MAX_FOLDING = (
    "folding: Xilinx/finn FINN/backend/fpga/example/lfc-max_bnn_hlsweights/hw/config.h @ f4e48af"
    "; published figure not found in readable text (the paper's results table was not readable)"
)


def finn_rows() -> list[dict]:
    """FINN on the ZC706 (arch_configs/finn_zc706.yaml) in the layer-pipelined mode:
    frames/s = clock / slowest stage, latency = sum of stages (accelsim.pipeline). LFC-max
    uses its public folding; SFC-max and CNV-max, whose foldings are not public, use the
    folding search under the lane budget of LFC-max on the same device (no parameter is
    fitted to the published figures)."""
    from accelsim.pipeline import load_folding

    arch = accelsim.load_arch(ROOT / "arch_configs" / "finn_zc706.yaml")
    lfc_max = load_folding(ROOT / "workloads" / "foldings" / "finn_lfc_max.yaml")
    rows = []
    for net, folding, fps, latency_us, source in (
        ("sfc", None, 12.3e6, 0.31, FINN_SRC + FINN_ASSUMED),
        ("lfc", lfc_max, None, None, LFC_MAX_FOLDING),
        ("cnv", None, 21906, 283, FINN_SRC + FINN_ASSUMED + "; the first layer (3 input "
         "channels, so SIMD <= 3) bounds the throughput; latency sums whole stages, an upper "
         "bound for streaming convolutions"),
    ):  # fmt: skip
        wl = accelsim.load_workload(ROOT / "workloads" / f"finn_{net}.yaml")
        total = accelsim.simulate(arch, wl, folding=folding).total
        rows.append(_row(f"finn_{net}_max", "frames/s", "predicted", fps,
                         total["frames_per_s"], source))  # fmt: skip
        rows.append(_row(f"finn_{net}_max", "latency (us)", "predicted", latency_us,
                         total["latency_s"] * 1e6, source))  # fmt: skip
    return rows


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.parse_args(argv)
    rows = unpu_rows() + bitfusion_rows() + hiddenite_rows() + finn_rows()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    for r in rows:
        err = "" if r["rel_error"] is None else f"{100 * r['rel_error']:+.1f}%"
        published = "" if r["published"] is None else r["published"]
        print(f"{r['design']:<10} {r['quantity']:<52} {r['kind']:<10} "
              f"{published:>10} {r['simulated']:>12.4g} {err:>8}")  # fmt: skip
    print(f"wrote {OUT}")
    return rows


if __name__ == "__main__":
    main()
