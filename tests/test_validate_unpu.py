"""The UNPU and BitFusion rows of analysis/validate_published.py: the tolerances that hold,
and the documented misses (README, "Validation against published chips: UNPU")."""

import importlib.util

import pytest
from conftest import ROOT


@pytest.fixture(scope="module")
def validate():
    spec = importlib.util.spec_from_file_location(
        "validate_published", ROOT / "analysis" / "validate_published.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def unpu(validate):
    return {r["quantity"]: r for r in validate.unpu_rows()}


def test_unpu_peaks_exact(unpu):
    """345.6 GOPS at 16 bits and 7,372 at 1 bit (JSSC 2019 abstract): 4,608 PEs x 3 MACs per
    16 cycles x 2 ops x 200 MHz = 345.6 GOPS; 4,608 x 4 x 2 x 200 MHz = 7,372.8 GOPS (the
    abstract rounds). 8/4/2 bits follow the bit-serial law 345.6 x 16 / w_bits."""
    for bits in (16, 8, 4, 2):
        row = unpu[f"peak GOPS at {bits}-bit weights"]
        assert row["simulated"] == pytest.approx(345.6 * 16 / bits)
    assert unpu["peak GOPS at 1-bit weights"]["simulated"] == pytest.approx(7372.8)
    assert abs(unpu["peak GOPS at 1-bit weights"]["rel_error"]) < 2e-4


def test_unpu_energy_calibration_and_prediction(validate, capsys):
    """With the technology table's leakage the 16-bit point cannot be calibrated at 0.63 V
    (the script says so and why); on dynamic energy the fit is exact and the frozen model
    predicts 35.6 TOPS/W at 1 bit, -30% from the published 50.6, and no share of leakage
    brings it above 39.7 (-22%): the issue's 15% is not reached (README)."""
    rows = {r["quantity"]: r for r in validate.unpu_rows()}
    assert "cannot be calibrated at 0.63 V" in capsys.readouterr().out
    full16, full1 = rows["TOPS/W at 16-bit weights"], rows["TOPS/W at 1-bit weights"]
    assert full16["kind"] == "calibrated" and full16["simulated"] < 3.08 / 2
    assert full1["kind"] == "predicted"
    dyn16 = rows["TOPS/W at 16-bit weights, dynamic only"]
    dyn1 = rows["TOPS/W at 1-bit weights, dynamic only"]
    best = rows["TOPS/W at 1-bit weights, best over any leakage share"]
    assert dyn16["kind"] == "calibrated" and abs(dyn16["rel_error"]) < 1e-6
    assert dyn1["kind"] == "predicted" and best["kind"] == "derived"
    assert dyn1["simulated"] == pytest.approx(35.63, abs=0.01)
    assert best["simulated"] == pytest.approx(39.66, abs=0.01)
    assert dyn1["simulated"] <= best["simulated"] < 50.6 * 0.85


def test_unpu_lut_saving_at_16_bits_by_hand(unpu):
    """PE energy per MAC (every price scales alike with node, supply and mac_pj_scale, so
    the ratio is free of them). LUT PE at 16-bit weights, lut_group 3, lut_share 8: 16/3
    lookups, each a 19-bit entry select priced as an adder plus a 32-bit accumulate, and
    1/24 builds of 4 additions at 19 bits. Horowitz adds: 0.05 pJ at 16 bits, 0.1 at 32,
    log-log slope 1 between, so add(19) = 0.059375: 16/3 x 0.159375 + 4 x 0.059375 / 24 =
    0.85990. The int_mac fit at 16 x 16: 0.01209 + 0.005549 x 32 + 0.001611 x 256 = 0.60207.
    Saving 1 - 0.85990 / 0.60207 = -42.8%, against UNPU's published +23.1%: the documented
    miss of the LUT PE's energy model."""
    row = unpu["PE energy saving vs fixed-point MAC at 16-bit (%)"]
    assert row["published"] == 23.1
    assert row["simulated"] == pytest.approx(100 * (1 - 0.85990 / 0.60207), abs=0.1)


def test_bitfusion_peaks_exact(validate):
    """16 x 32 fusion units at 500 MHz, 2 ops per MAC: 0.512 TOPS x the MACs per fusion
    unit per cycle, floor(8 / max(a, 2)) floor(8 / max(w, 2))."""
    for r in validate.bitfusion_rows():
        assert r["rel_error"] == 0, r
