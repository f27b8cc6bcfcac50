#!/usr/bin/env python3
"""Check closed-form expressions for SCALE-Sim 3.0.0 (CALC mode) against the goldens here.

Standard library only; any Python 3 runs it:  python3 tests/goldens/scalesim/check_formula.py

Lowering of one topology row (done independently of the golden's own sr/sc/t columns):
  conv row (H, W, R_f, S_f, C, N, stride s):  OH = ceil((H - R_f + s)/s), OW likewise,
      M = OH*OW, K = R_f*S_f*C (C = 1 for a layer whose name contains "DP": SCALE-Sim
      splits it into C sublayers of one channel each, keeping N), N = Num filter.
  GEMM row (M, N, K): as given (SCALE-Sim loads it as a conv with ifmap M x K, filter 1 x K,
      1 channel, N filters, stride 1).
  (Sr, Sc, T) = (M, N, K) for os, (K, N, M) for ws, (K, M, N) for is.
  F = ceil(Sr/R)*ceil(Sc/C) for an array of R rows and C columns.
Checked, per golden row:
  total_cycles        == F*(R + C + T - 2) - 1 (os),  F*(2R + C + T - 2) - 1 (ws, is)
  stall_cycles        == 0
  sram ifmap reads    == Sr*T*ceil(Sc/C) (os), T*Sr*ceil(Sc/C) (ws), Sr*Sc (is)
  sram filter reads   == T*Sc*ceil(Sr/R) (os), Sr*Sc (ws), T*Sr*ceil(Sc/C) (is)
  sram ofmap writes   == Sr*Sc + F*(R + C) (os), T*Sc*ceil(Sr/R) (ws, is)
  dram ifmap reads    == distinct ifmap addresses any window touches (conv), M*K (GEMM)
  dram filter reads   == K*N
  dram ofmap writes   == valid words M*N (os), T*Sc*ceil(Sr/R) (ws, is) while that is at
      most half the ofmap SRAM (1024*1024 words); above, mid-compute drains over-count and
      the write buffer is replayed (emulate_ofmap_dram); "(valid words)" shows the plain count
  overall_util_pct    == 100*M*N*K / (total_cycles*R*C)
  mapping_eff_pct     == 100*Sr*Sc / (F*R*C)
  compute_util_pct    == 100*Sr*Sc*T / (F*R*C*L), L = R+C+T-2 (os), 2R+2C+T-3 (ws, is)
  (percentages to a relative 1e-9: SCALE-Sim averages per-fold floats)
  sram start/stop cycles (L = cycles per fold, B = (F-1)*L, r0 = min(R,Sr),
      rl = Sr-(ceil(Sr/R)-1)*R, cl = Sc-(ceil(Sc/C)-1)*C), ifmap, filter, ofmap:
      os: 1, B+T+rl-1 | 1, B+T+cl-1 | T-1+R-r0, B+T+R+cl-3
      ws: R+1, B+R+T+rl-1 | R-r0+1, B+R | 2R-1, B+2R+T+cl-3
      is: R-r0+1, B+R | R+1, B+R+T+rl-1 | 2R-1, B+2R+T+cl-3
      (the ifmap stop is computed from the last fold holding a valid address: -1 entries of partial conv
      windows, see README, move it earlier than these closed forms)
  bw_avg_<op>_sram_bw == SRAM reads|writes / total_cycles,
  bw_avg_<op>_dram_bw == DRAM reads|writes / (DRAM stop - DRAM start + 1)   (from the row)
  dram ifmap/filter start == -P(U), stop == -1, U = the DRAM reads above,
      P(U) = ceil(ceil(U/S)*S/10), S = floor(6144*1024/100) words (1% of the SRAM)
  if the ofmap DRAM writes W <= 1024*1024 (half the 2048 kB ofmap SRAM):
      dram ofmap start == total_cycles, stop == total_cycles + ceil(W/C) - 1 (else replayed)
  total_cycles_incl_prefetch == dram ofmap stop + max(P(U_ifmap), P(U_filter))
"""

import csv
import math
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent


def covered(n_in, f, s, n_out):
    """Number of input positions (along one axis) that some window touches."""
    hit = set()
    for i in range(n_out):
        hit.update(p for p in range(i * s, i * s + f) if p < n_in)
    return len(hit)


def validity(row):
    """valid(p, k): is ifmap element k of the window of output pixel p inside the ifmap?
    (SCALE-Sim puts -1 in the operand matrix otherwise; GEMM rows are always valid.)"""
    if "m" in row:
        return lambda p, k: True
    h, w = int(row["ifmap_height"]), int(row["ifmap_width"])
    fs = int(row["filter_width"])
    c, s = int(row["channels"]), int(row["strides"])
    if "DP" in row["layer"]:
        c = 1
    ow = math.ceil((w - fs + s) / s)

    def valid(p, k):
        oy, ox = divmod(p, ow)
        ky, rem = divmod(k, fs * c)
        return oy * s + ky < h and ox * s + rem // c < w

    return valid


def ifmap_sram_stop(row, df, R, C, sr, sc, t, L):
    """Last ifmap SRAM demand line (+1 hit latency) holding a valid address. Folds run with
    the column fold outer and the row fold inner; a fold's lines start at fold_index * L."""
    valid = validity(row)
    rf, cf = math.ceil(sr / R), math.ceil(sc / C)

    def last_in_fold(fr, fc):
        r0, rn = fr * R, min(sr, fr * R + R)  # operand rows of this row fold
        if df == "os":  # pixels [r0, rn) x window [0, t), skewed: line = k + (pixel - r0)
            offs = [k + p - r0 for p in range(r0, rn) for k in range(t) if valid(p, k)]
            return max(offs) + 1 if offs else None
        if df == "ws":  # pixels [0, t) x window [r0, rn), R-line prefix, skewed
            best = None
            for p in range(t - 1, -1, -1):
                if best is not None and p + rn - 1 - r0 <= best:
                    break
                for k in range(rn - 1, r0 - 1, -1):
                    if valid(p, k):
                        best = max(best if best is not None else -1, p + k - r0)
                        break
            return None if best is None else R + best + 1
        # is: window rows [r0, rn) x pixels of this column fold, flipped, no skew
        c0, cn = fc * C, min(sc, fc * C + C)
        for k in range(r0, rn):
            if any(valid(p, k) for p in range(c0, cn)):
                return R - (k - r0)
        return None

    for idx in range(rf * cf - 1, -1, -1):
        fc, fr = divmod(idx, rf)
        off = last_in_fold(fr, fc)
        if off is not None:
            return idx * L + off
    return None


def emulate_ofmap_dram(df, R, C, sr, sc, t, total=2048 * 1024):
    """Replay SCALE-Sim's ofmap write buffer (memory/write_buffer.py, CALC mode: C words per
    DRAM line, latency 0, no stalls) on the count of valid ofmap words per demand line.
    Returns (DRAM writes, DRAM start cycle, DRAM stop cycle)."""
    drain_size = total - math.ceil(total * 0.5)
    thr = total - drain_size
    n_drain = math.ceil(drain_size / C)
    rf, cf = math.ceil(sr / R), math.ceil(sc / C)
    L = (R + C + t - 2) if df == "os" else (2 * R + C + t - 2)
    st = {
        "free": total,
        "idx": 0,
        "lines": 0,
        "pads": {},
        "dstart": 0,
        "dend": 0,
        "writes": 0,
        "cycles": [],
    }

    def store(k):
        st["free"] -= k
        st["idx"] += k
        st["lines"] += st["idx"] // C
        st["idx"] %= C

    def drain(cycle):
        if st["idx"]:  # append_to_trace_mat(force=True): pad the partial line with -1
            st["pads"][st["lines"]] = C - st["idx"]
            st["lines"] += 1
            st["idx"] = 0
        end = min(st["dstart"] + n_drain, st["lines"])
        n = end - st["dstart"]
        size = n * C - st["pads"].get(end - 1, 0)  # only the chunk's last line is adjusted
        st["writes"] += size
        st["free"] += size
        st["cycles"] += [cycle, cycle + n - 1]
        st["dstart"] = end
        return cycle + n - 1

    line = 0
    for fc in range(cf):
        cu = min(C, sc - fc * C)
        for fr in range(rf):
            ru = min(R, sr - fr * R)
            lo, hi = (t - 1 + R - ru, t - 2 + R) if df == "os" else (2 * R - 1, 2 * R - 2 + t)
            for j in range(L):
                v = max(0, min(cu - 1, j - lo) - max(0, j - hi) + 1)
                if v:
                    if line < st["dend"] or st["free"] - v >= thr:
                        assert st["free"] - v >= 0
                        store(v)
                    else:
                        e = max(1, st["free"] - thr + 1)
                        store(e)
                        st["dend"] = drain(line)
                        store(v - e)
                line += 1
    cycle = line - 1
    st["dend"] = cycle
    drain_cycle = cycle
    if st["idx"] or st["dstart"] < st["lines"]:
        while True:
            st["dend"] = drain(drain_cycle)
            drain_cycle = st["dend"] + 1
            if st["dstart"] >= st["lines"]:
                break
    return st["writes"], min(st["cycles"]), max(st["cycles"])


def lower(row):
    if "m" in row:
        m, n, k = int(row["m"]), int(row["n"]), int(row["k"])
        return m, n, k, m * k
    h, w = int(row["ifmap_height"]), int(row["ifmap_width"])
    fr, fs = int(row["filter_height"]), int(row["filter_width"])
    c, n, s = int(row["channels"]), int(row["num_filter"]), int(row["strides"])
    if "DP" in row["layer"]:
        c = 1
    oh, ow = math.ceil((h - fr + s) / s), math.ceil((w - fs + s) / s)
    dram_ifmap = covered(h, fr, s, oh) * covered(w, fs, s, ow) * c
    return oh * ow, n, fr * fs * c, dram_ifmap


SET_WORDS = (6144 * 1024) // 100  # ReadBufferEstimateBw: one "set" = 1% of the SRAM words
OFMAP_HALF = 2048 * 1024 // 2  # write_buffer: drain half = 50% of the ofmap SRAM words


def prefetch_cycles(unique_words):
    """CALC-mode DRAM prefetch of a read SRAM: whole sets at 10 words/cycle, ending at cycle -1
    (valid while the operand fits in the 50-set active half)."""
    assert unique_words < 50 * SET_WORDS
    return math.ceil(math.ceil(unique_words / SET_WORDS) * SET_WORDS / 10)


def expected(row):
    df, R, C = row["dataflow"], int(row["array_rows"]), int(row["array_cols"])
    m, n, k, dram_ifmap = lower(row)
    sr, sc, t = {"os": (m, n, k), "ws": (k, n, m), "is": (k, m, n)}[df]
    rf, cf = math.ceil(sr / R), math.ceil(sc / C)
    f = rf * cf
    e = {"lowering (sr,sc,t)": (sr, sc, t)}
    e["total_cycles"] = f * ((R + C + t - 2) if df == "os" else (2 * R + C + t - 2)) - 1
    e["stall_cycles"] = 0
    e["acc_sram_ifmap_reads"] = {"os": sr * t * cf, "ws": t * sr * cf, "is": sr * sc}[df]
    e["acc_sram_filter_reads"] = {"os": t * sc * rf, "ws": sr * sc, "is": t * sr * cf}[df]
    e["acc_sram_ofmap_writes"] = sr * sc + f * (R + C) if df == "os" else t * sc * rf
    e["acc_dram_ifmap_reads"] = dram_ifmap
    e["acc_dram_filter_reads"] = k * n
    e["acc_dram_ofmap_writes (valid words)"] = m * n if df == "os" else t * sc * rf
    e["overall_util_pct"] = 100 * m * n * k / (e["total_cycles"] * R * C)
    # SRAM trace windows: first/last demand line holding a valid address (reads +1 hit latency)
    L = (R + C + t - 2) if df == "os" else (2 * R + C + t - 2)
    base = (f - 1) * L  # first line of the last fold
    r0, rl, cl = min(R, sr), sr - (rf - 1) * R, sc - (cf - 1) * C
    win = {
        "os": (1, base + t + rl - 1, 1, base + t + cl - 1, t - 1 + R - r0, base + t + R + cl - 3),
        "ws": (
            R + 1,
            base + R + t + rl - 1,
            R - r0 + 1,
            base + R,
            2 * R - 1,
            base + 2 * R + t + cl - 3,
        ),
        "is": (
            R - r0 + 1,
            base + R,
            R + 1,
            base + R + t + rl - 1,
            2 * R - 1,
            base + 2 * R + t + cl - 3,
        ),
    }[df]
    win = list(win)
    win[1] = ifmap_sram_stop(row, df, R, C, sr, sc, t, L)
    for name, v in zip(
        ("ifmap_start", "ifmap_stop", "filter_start", "filter_stop", "ofmap_start", "ofmap_stop"),
        win,
    ):
        e[f"acc_sram_{name}_cycle"] = v
    # DRAM side of CALC mode (SRAM sizes of configs/*.cfg: 6144 / 6144 / 2048 kB, 1-byte words)
    p_if, p_fl = prefetch_cycles(dram_ifmap), prefetch_cycles(k * n)
    e["acc_dram_ifmap_start_cycle"], e["acc_dram_ifmap_stop_cycle"] = -p_if, -1
    e["acc_dram_filter_start_cycle"], e["acc_dram_filter_stop_cycle"] = -p_fl, -1
    w = e["acc_dram_ofmap_writes"] = e["acc_dram_ofmap_writes (valid words)"]
    if w <= OFMAP_HALF:  # one final drain of the ofmap SRAM, C words per cycle
        e["acc_dram_ofmap_start_cycle"] = e["total_cycles"]
        e["acc_dram_ofmap_stop_cycle"] = e["total_cycles"] + math.ceil(w / C) - 1
    else:  # mid-compute drains: replay the write buffer
        (
            e["acc_dram_ofmap_writes"],
            e["acc_dram_ofmap_start_cycle"],
            e["acc_dram_ofmap_stop_cycle"],
        ) = emulate_ofmap_dram(df, R, C, sr, sc, t)
    e["total_cycles_incl_prefetch"] = e["acc_dram_ofmap_stop_cycle"] + max(p_if, p_fl)
    # BANDWIDTH_REPORT: SRAM words per compute cycle, DRAM words per cycle of its own window
    for op, kind in (("ifmap", "reads"), ("filter", "reads"), ("ofmap", "writes")):
        e[f"bw_avg_{op}_sram_bw"] = float(row[f"acc_sram_{op}_{kind}"]) / e["total_cycles"]
        span = float(row[f"acc_dram_{op}_stop_cycle"]) - float(row[f"acc_dram_{op}_start_cycle"])
        e[f"bw_avg_{op}_dram_bw"] = float(row[f"acc_dram_{op}_{kind}"]) / (span + 1)
    e["mapping_eff_pct"] = 100 * sr * sc / (f * R * C)
    fold = (R + C + t - 2) if df == "os" else (2 * R + 2 * C + t - 3)
    e["compute_util_pct"] = 100 * sr * sc * t / (f * R * C * fold)
    return e


def got(row, key):
    key = key.replace(" (valid words)", "")
    if key == "lowering (sr,sc,t)":
        return tuple(int(row[x]) for x in ("sr", "sc", "t"))
    if key.endswith("_pct") or key.startswith("bw_"):
        return float(row[key])
    return int(float(row[key]))


def main():
    files = sorted(HERE.glob("golden_*.csv"))
    if not files:
        print("no golden_*.csv here")
        return 1
    stats = defaultdict(lambda: [0, 0])  # (check, case, df) -> [ok, total]
    bad = defaultdict(list)
    for path in files:
        case = path.stem[len("golden_") :]
        with open(path) as fh:
            for row in csv.DictReader(fh):
                for key, want in expected(row).items():
                    have = got(row, key)
                    ok = (
                        abs(have - want) <= 1e-9 * abs(want)
                        if isinstance(want, float)
                        else have == want
                    )
                    st = stats[(key, case, row["dataflow"])]
                    st[1] += 1
                    if ok:
                        st[0] += 1
                    else:
                        bad[(key, case, row["dataflow"])].append(
                            f"{row['sublayer']}: got {have}, formula {want}"
                        )
    checks = list(dict.fromkeys(k for k, _, _ in stats))
    failed = [k for (k, _, _), (o, t) in stats.items() if o != t and "(valid words)" not in k]
    for key in checks:
        ok = sum(v[0] for (k, _, _), v in stats.items() if k == key)
        tot = sum(v[1] for (k, _, _), v in stats.items() if k == key)
        print(f"{key:28s} {ok:5d}/{tot:<5d} rows match")
        for (k, case, df), (o, t) in sorted(stats.items()):
            if k == key and o != t:
                print(f"    {case} {df}: {o}/{t}; e.g. " + "; ".join(bad[(k, case, df)][:3]))
    print(
        "('(valid words)' is informational: SCALE-Sim over-counts ofmap DRAM writes when it "
        "drains mid-compute; the replayed count is the one checked)"
    )
    print("ALL CHECKS MATCH" if not failed else f"MISMATCH in: {sorted(set(failed))}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
