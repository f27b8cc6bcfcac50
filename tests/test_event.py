"""The event-driven (simpy) tile model: a hand-computed contention timeline, tile traffic
equal to the closed form's for every loop order, agreement with the closed form when
nothing contends, and its bad-input paths."""

import subprocess
import sys

import numpy as np
import pytest
from conftest import QUANT, ROOT

import accelsim
from accelsim.arch import with_changes
from accelsim.event import run_layer, tiles
from accelsim.memory import ORDERS, traffic

PORTS = (1.0, 1.0, 1.0)  # bytes per cycle of the inputs, weights, outputs buffers


def _job(compute, load, store):
    c = np.array(compute, dtype=float)
    return {"compute": c, "ports": np.zeros((3, len(c))), "load": np.array(load, dtype=float),
            "store": np.array(store, dtype=float), "generated": np.zeros(len(c))}  # fmt: skip


def test_one_array_is_prologue_compute_epilogue():
    """Two tiles of 10 cycles, 8 bytes to load each, 4 to store after the last; 1 byte/cycle.
    load0 0-8, load1 8-16 (under compute0 8-18), compute1 18-28, store 28-32:
    32 = 8 (prologue) + 20 + 4 (epilogue)."""
    res = run_layer([(_job([10, 10], [8, 8], [0, 4]), 1)], 1.0, PORTS, None)
    assert (res["end"], res["compute"], res["stall_dram_read"], res["stall_dram_write"]) == (
        32, 20, 8, 4,
    )  # fmt: skip


def test_two_arrays_contend_for_one_dram_channel():
    """The same job on two arrays A and B sharing the channel (FIFO), by hand:
    DRAM: A.load0 0-8, B.load0 8-16 (asked at 0), A.load1 16-24 (asked at 8), B.load1 24-32
    (asked at 16), A.store 34-38, B.store 42-46.
    A: waits 0-8, computes 8-18, waits 18-24, computes 24-34, waits for its store 34-38: 38.
    B: waits 0-16, computes 16-26, waits 26-32, computes 32-42, store 42-46: 46 cycles,
    22 of them waiting for loads, 4 for the store. The layer ends with B."""
    job = _job([10, 10], [8, 8], [0, 4])
    res = run_layer([(job, 1), (job, 1)], 1.0, PORTS, None)
    assert (res["end"], res["compute"], res["stall_dram_read"], res["stall_dram_write"]) == (
        46, 20, 22, 4,
    )  # fmt: skip


def test_slow_generator_stalls_the_array():
    """One tile, 10 cycles of compute, 30 generated weights at 1 weight/cycle: the array waits
    20 cycles for its weights (load 0 bytes, store 0)."""
    job = _job([10], [0], [0])
    job["generated"] = np.array([30.0])
    res = run_layer([(job, 1)], 1.0, PORTS, 1.0)
    assert (res["end"], res["stall_generator"]) == (30, 20)


def test_drain_slot_full_stalls_the_array():
    """Three tiles of 2 cycles, each a finished output tile of 10 bytes; nothing to load.
    store0 2-12 (drain busy), tile1 computes 2-4 then waits for the drain until 12, store1
    12-22, tile2 computes 12-14, waits 14-22, store2 22-32, end 32: 8 + 8 cycles waiting for
    the full drain slot, 10 for the layer's last store."""
    res = run_layer([(_job([2, 2, 2], [0, 0, 0], [10, 10, 10]), 1)], 1.0, PORTS, None)
    assert (res["end"], res["stall_buffer_full"], res["stall_dram_write"]) == (32, 16, 10)


def test_sub_arrays_share_a_buffer_port():
    """Two arrays, one tile each: 10 cycles of compute, 8 bytes through the weights port
    (1 byte/cycle), nothing from DRAM. Alone a tile takes max(10, 8) = 10. Together the port
    serves A 0-8 and B 8-16: B computes 0-10 and waits for its bytes until 16 (6 cycles of
    SRAM stall); the layer ends at 16."""
    job = _job([10], [0], [0])
    job["ports"][1] = 8.0
    assert run_layer([(job, 1)], 1.0, PORTS, None)["end"] == 10
    res = run_layer([(job, 1), (job, 1)], 1.0, PORTS, None)
    assert (res["end"], res["stall_sram"]) == (16, 6)


@pytest.mark.parametrize("order", ["".join(o) for o in ORDERS])
def test_tile_traffic_equals_the_closed_form(order):
    """Loads and stores of the tile walk add up to `accelsim.memory.traffic` (the reuse rule)
    for every loop order, with edge tiles in every dimension."""
    arch = accelsim.load_arch(ROOT / "arch_configs" / "edge_32x32.yaml")
    m, n, k, tm, tn, tk = 100, 70, 90, 32, 32, 64
    bits = (8, 8, 32, 8)
    t = tiles(m, n, k, tm, tn, tk, order, bits, 1.0, 1.0, 1, arch, "os")
    read, write, _ = traffic(m, n, k, tm, tn, tk, bits, order)
    assert t["load"].sum() == pytest.approx(float(read))
    assert t["store"].sum() == pytest.approx(float(write))


def _ample(arch, factor=1000.0):
    changes = {"dram.bytes_per_cycle": arch.spec.dram.bytes_per_cycle * factor}
    for b in ("inputs", "weights", "outputs"):
        changes[f"memories.{b}.bytes_per_cycle"] = (
            getattr(arch.spec.memories, b).bytes_per_cycle * factor
        )
    return with_changes(arch, changes)


DESIGNS = ["bnn_xnor", "edge_32x32", "tpu_v1_like", "unpu"]


@pytest.mark.parametrize("design", DESIGNS)
@pytest.mark.parametrize("network", ["resnet18", "bert_base", "finn_cnv"])
def test_agrees_with_the_closed_form_when_nothing_contends(design, network):
    """One array, bandwidth to spare (DRAM and SRAM ports x1000): event cycles = the closed
    form's prologue (the first, whole tiles' loads) + compute + epilogue (the last, edge
    tile's store), layer by layer, exactly. (The full design x network table: benchmarks/bench_event.py --agreement.)"""
    arch = _ample(accelsim.load_arch(ROOT / "arch_configs" / f"{design}.yaml"))
    wl = accelsim.load_workload(ROOT / "workloads" / f"{network}.yaml")
    closed = accelsim.simulate(arch, wl).columns
    event = accelsim.simulate(arch, wl, fidelity="event").columns
    c, e = np.nan_to_num(closed["cycles"]), np.nan_to_num(event["cycles"])
    assert np.array_equal(c, e)
    assert np.array_equal(closed["dram_bytes"], event["dram_bytes"])


def test_event_report_columns(write):
    arch = accelsim.load_arch(ROOT / "arch_configs" / "edge_32x32.yaml")
    wl = accelsim.load_workload(ROOT / "workloads" / "finn_sfc.yaml")
    report = accelsim.simulate(arch, wl, fidelity="event")
    cols = report.columns
    assert report.provenance["fidelity"] == "event"
    causes = ("dram_read", "dram_write", "buffer_full", "sram")
    stalls = sum(cols[f"stall_{c}_cycles"] for c in causes)
    assert np.allclose(cols["cycles"], cols["compute_cycles"] + stalls)
    assert np.isclose(report.total["energy_pj"], sum(report.energy_breakdown.values()))


def test_bad_fidelity(write):
    arch = accelsim.load_arch(ROOT / "arch_configs" / "edge_32x32.yaml")
    wl = accelsim.load_workload(ROOT / "workloads" / "finn_sfc.yaml")
    with pytest.raises(accelsim.ConfigError, match=r"fidelity: unknown fidelity .*'evnt'"):
        accelsim.simulate(arch, wl, fidelity="evnt")
    bare = accelsim.load_arch(
        write("a.yaml", "name: a\narray: {rows: 8, cols: 8, dataflow: os, clock_mhz: 100}\n"
                        "pe: {kind: int_mac, max_a_bits: 8, max_w_bits: 8}\n")
    )  # fmt: skip
    tiny = accelsim.load_workload(
        write("w.yaml", f"name: w\nbatch: 1\nquant: {QUANT}\nlayers:\n"
                        "  - {name: f, type: fc, in_features: 8, out_features: 8}\n")
    )  # fmt: skip
    with pytest.raises(accelsim.ConfigError, match=r"fidelity event needs memories and dram"):
        accelsim.simulate(bare, tiny, fidelity="event")


def test_cli_fidelity_event():
    arch = str(ROOT / "arch_configs" / "edge_32x32.yaml")
    wl = str(ROOT / "workloads" / "finn_sfc.yaml")
    proc = subprocess.run([sys.executable, "-m", "accelsim", "run", arch, wl, "--fidelity",
                           "event", "--format", "json"], capture_output=True, text=True,
                          cwd=ROOT)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert '"fidelity": "event"' in proc.stdout
    bad = subprocess.run([sys.executable, "-m", "accelsim", "run", arch, wl, "--fidelity",
                          "events"], capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    assert bad.returncode == 2 and "did you mean 'event'" in bad.stderr


def test_timeline_and_gantt(tmp_path):
    """With a timeline, every busy interval is in the report: DRAM intervals never overlap
    (one channel), an array's compute intervals add up to the layer's compute cycles, and
    `accelsim plot timeline` draws them."""
    arch = str(ROOT / "arch_configs" / "reconfig_128x128.yaml")
    wl = str(ROOT / "workloads" / "finn_sfc.yaml")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "accelsim", "run", arch, wl, "--fidelity",
                           "event", "--timeline", "--out", str(out)], capture_output=True,
                          text=True, cwd=ROOT)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = accelsim.simulate(accelsim.load_arch(arch), accelsim.load_workload(wl),
                               fidelity="event", timeline=True)  # fmt: skip
    spans = sorted((r["start"], r["end"]) for r in report.timeline if r["resource"] == "dram")
    assert all(a[1] <= b[0] + 1e-9 for a, b in zip(spans, spans[1:]))
    first = report.columns["name"][0]
    busy = [r["end"] - r["start"] for r in report.timeline
            if r["layer"] == first and r["resource"] == "array0"]  # fmt: skip
    # the slowest array sets the layer's compute; every array computes no longer
    assert sum(busy) <= report.columns["compute_cycles"][0] + 1e-9
    plot = subprocess.run([sys.executable, "-m", "accelsim", "plot", "timeline",
                           str(out / "report.json"), "-o", str(tmp_path / "g.png")],
                          capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    assert plot.returncode == 0, plot.stderr
    assert (tmp_path / "g.png").stat().st_size > 0


def test_timeline_needs_event_fidelity():
    arch = accelsim.load_arch(ROOT / "arch_configs" / "edge_32x32.yaml")
    wl = accelsim.load_workload(ROOT / "workloads" / "finn_sfc.yaml")
    with pytest.raises(accelsim.ConfigError, match=r"fidelity: a timeline needs fidelity event"):
        accelsim.simulate(arch, wl, timeline=True)


def test_too_many_tiles_is_refused_before_building_them(write, monkeypatch):
    """A layer with more than MAX_TILES tiles is a ConfigError naming it and suggesting
    closed_form, raised before any tile is built: fc 2^25 x 2^25 on edge_32x32 (about 10^12
    tiles) exits 2 at once instead of allocating terabytes; with the cap lowered to 1, tiny's
    conv c1 (more tiles than that) is refused by the Python API too. The shipped networks stay
    far below the cap."""
    import accelsim.event

    assert accelsim.event.MAX_TILES >= 8 * 225_792  # vgg16 conv1_2 on bitfusion, the largest
    huge = write("h.yaml", f"name: h\nbatch: 1\nquant: {QUANT}\nlayers:\n  - {{name: big, "
                           "type: fc, in_features: 33554432, out_features: 33554432}\n")  # fmt: skip
    arch = ROOT / "arch_configs" / "edge_32x32.yaml"
    proc = subprocess.run([sys.executable, "-m", "accelsim", "run", str(arch), str(huge),
                           "--fidelity", "event"], capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert ("fidelity: layer 'big' has 1,099,511,627,776 tiles: too many for the event model "
            "(at most 2,000,000); found 'event'; allowed: closed_form for this workload "
            "(--fidelity closed_form)") in proc.stderr  # fmt: skip
    monkeypatch.setattr(accelsim.event, "MAX_TILES", 1)
    wl = accelsim.load_workload(ROOT / "tests" / "data" / "tiny.yaml")
    with pytest.raises(accelsim.ConfigError, match=r"fidelity: layer 'c1' has [\d,]+ tiles"):
        accelsim.simulate(accelsim.load_arch(arch), wl, fidelity="event")


def test_fidelity_errors_name_who_asked(write, monkeypatch, capsys):
    """The fidelity's errors name where it came from: ``accelsim.simulate()`` and its
    ``fidelity`` argument from Python (the tile cap suggesting ``fidelity="closed_form"``),
    the command line (``--fidelity closed_form``) from ``accelsim run``; a run of the command
    line leaves Python calls named as Python calls."""
    import accelsim.event
    from accelsim.cli import main

    arch_file = ROOT / "arch_configs" / "edge_32x32.yaml"
    wl_file = ROOT / "tests" / "data" / "tiny.yaml"
    arch, wl = accelsim.load_arch(arch_file), accelsim.load_workload(wl_file)
    assert main(["run", str(arch_file), str(wl_file), "--fidelity", "evnt"]) == 2
    assert "  <command line>: fidelity: unknown fidelity (did you mean 'event'?); found 'evnt'; " \
           "allowed: closed_form, event\n" in capsys.readouterr().err  # fmt: skip
    with pytest.raises(accelsim.ConfigError) as exc:
        accelsim.simulate(arch, wl, fidelity="evnt")
    assert str(exc.value) == ("accelsim.simulate(): fidelity: unknown fidelity (did you mean "
                              "'event'?); found 'evnt'; allowed: closed_form, event")  # fmt: skip
    with pytest.raises(
        accelsim.ConfigError, match=r"^accelsim\.simulate\(\): fidelity: a timeline"
    ):
        accelsim.simulate(arch, wl, timeline=True)
    monkeypatch.setattr(accelsim.event, "MAX_TILES", 1)
    assert main(["run", str(arch_file), str(wl_file), "--fidelity", "event"]) == 2
    err = capsys.readouterr().err
    assert "  <command line>: fidelity: layer 'c1' has " in err
    assert "allowed: closed_form for this workload (--fidelity closed_form)\n" in err
    with pytest.raises(accelsim.ConfigError) as exc:
        accelsim.simulate(arch, wl, fidelity="event")
    assert str(exc.value).startswith("accelsim.simulate(): fidelity: layer 'c1' has ")
    assert str(exc.value).endswith("; found 'event'; allowed: closed_form for this workload "
                                   '(fidelity="closed_form")')  # fmt: skip
    assert "<command line>" not in str(exc.value)
