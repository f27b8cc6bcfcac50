"""HAQ's central observation on accelsim's designs: a mixed-precision policy found for one
hardware is not the right one for another (Wang et al., CVPR 2019, Sections 4.2-4.3).

    python analysis/haq_study.py     # ~5 min on 2 cores; writes analysis/figures/haq_*.png
                                     # and analysis/figures/haq_study.csv, prints the table,
                                     # and ships the evolutionary search's policies as
                                     # workloads/assignments/digits_mlp_<design>_<metric>.yaml

Network: the digits MLP (``workloads/digits_mlp.yaml``, weights trained by
``analysis/haq_train_digits.py``), quantized inference through the bit-accurate reference
(`accelsim.search.DigitsMLP`). Designs with different precision behaviour:
``bitfusion`` (``bit_fusion``: throughput grows with both operands narrowing, in steps
8 -> 4 -> 2 bits) and ``unpu`` (``bit_serial``: cycles proportional to w_bits, activations
free in time). Costs: `accelsim.CostOracle` (equal to `accelsim.simulate`).

For each metric (latency, energy) and each design, both searches
(`accelsim.search.greedy_search`, `evolutionary_search`) look for the most accurate policy
(accuracy on the training images) under the same budget: ``RATIO`` of that design's cost
with every layer at 8/8, first and last layers pinned at 8/8 as HAQ does. Each policy is
then costed on both designs and its test accuracy measured. The figures show, per design
and metric, every policy the searches evaluated (test accuracy against cost relative to
8/8, on that design), the Pareto front, and where the policies found for each design land.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import accelsim
from accelsim.onnx_import import assignment_to_yaml
from accelsim.search import (
    BudgetRule,
    DigitsMLP,
    evolutionary_search,
    greedy_search,
    pareto_front,
)

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ROOT / "analysis" / "figures"
ASSIGNMENTS = ROOT / "workloads" / "assignments"
DESIGNS = {"bitfusion": "bit_fusion", "unpu": "bit_serial"}
METRICS = {"latency": "latency_s", "energy": "energy_pj"}
RATIO = 0.62
SEED = 0


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.parse_args(argv)
    net = DigitsMLP()
    wl = accelsim.load_workload(ROOT / "workloads" / "digits_mlp.yaml")
    oracles = {
        d: accelsim.CostOracle(accelsim.load_arch(ROOT / "arch_configs" / f"{d}.yaml"), wl)
        for d in DESIGNS
    }
    reference = {
        (d, m): getattr(o.cost([(8, 8)] * len(o.layers)), f) for d, o in oracles.items()
        for m, f in METRICS.items()
    }  # fmt: skip

    def relative(strategy, design, metric):
        return getattr(oracles[design].cost(strategy), METRICS[metric]) / reference[design, metric]

    rows, clouds = [], {}
    for metric in METRICS:
        for design in DESIGNS:
            rule = BudgetRule(oracles[design], metric, budget_ratio=RATIO)
            for name, search in (("greedy", greedy_search), ("evolutionary", evolutionary_search)):
                kwargs = {"seed": SEED} if name == "evolutionary" else {}
                result = search(rule, net.accuracy, **kwargs)
                clouds.setdefault(metric, []).extend(s for s, _, _ in result.history)
                row = {
                    "metric": metric,
                    "searched_for": design,
                    "search": name,
                    "strategy": " ".join(f"{w}/{a}" for w, a in result.strategy),
                    "train_accuracy": result.accuracy,
                    "test_accuracy": net.accuracy(result.strategy, "test"),
                    "evaluated": len(result.history),
                    "within_budget": result.within_budget,
                }
                for other in DESIGNS:
                    row[f"{metric}_on_{other}"] = relative(result.strategy, other, metric)
                rows.append(row)
                print(row, flush=True)
                if name == "evolutionary":
                    write_assignment(oracles[design].names, result.strategy, design, metric, row)
    uniform = [
        {"metric": m, "searched_for": "uniform", "search": f"{b}/{b}",
         "strategy": " ".join(["8/8"] + [f"{b}/{b}"] * 3 + ["8/8"]),
         "test_accuracy": net.accuracy([[8, 8]] + [[b, b]] * 3 + [[8, 8]], "test"),
         **{f"{m}_on_{d}": relative([[8, 8]] + [[b, b]] * 3 + [[8, 8]], d, m) for d in DESIGNS}}
        for m in METRICS for b in (8, 6, 4, 3)
    ]  # fmt: skip
    write_csv(rows + uniform)
    print_table(rows + uniform)
    plot(rows, clouds, net, relative)


def write_assignment(layers, strategy, design, metric, row) -> None:
    """The policy as an assignment file (`accelsim run ARCH WORKLOAD --assignment FILE`)."""
    name = f"digits_mlp_{design}_{metric}"
    bits = {la: {"w_bits": int(w), "a_bits": int(a)} for la, (w, a) in zip(layers, strategy)}
    text = assignment_to_yaml(accelsim.workload.make_assignment(name, bits))
    text = text.replace(
        "description: ''",
        f"description: evolutionary search (analysis/haq_study.py, seed {SEED}) for the most "
        f"accurate policy within {RATIO} x the 8/8 {metric} on {design}; test accuracy "
        f"{row['test_accuracy']:.2f}%",
    )
    ASSIGNMENTS.mkdir(parents=True, exist_ok=True)
    (ASSIGNMENTS / f"{name}.yaml").write_text(text)


def write_csv(rows) -> None:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    FIGURES.mkdir(parents=True, exist_ok=True)
    with (FIGURES / "haq_study.csv").open("w", newline="") as fh:
        out = csv.DictWriter(fh, keys, lineterminator="\n")
        out.writeheader()
        for r in rows:
            out.writerow({k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in r.items()})


def print_table(rows) -> None:
    print("\n| budget | policy searched for | search | w/a per layer | test acc. % "
          "| cost on bit_fusion (x 8/8) | cost on bit_serial (x 8/8) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        m = r["metric"]
        for_ = DESIGNS.get(r["searched_for"], r["searched_for"])
        print(f"| {m} {RATIO:.0%} | {for_} | {r['search']} | {r['strategy']} "
              f"| {r['test_accuracy']:.1f} | {r[f'{m}_on_bitfusion']:.3f} "
              f"| {r[f'{m}_on_unpu']:.3f} |")  # fmt: skip


def plot(rows, clouds, net, relative) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    markers = {("bitfusion", "greedy"): "s", ("bitfusion", "evolutionary"): "D",
               ("unpu", "greedy"): "^", ("unpu", "evolutionary"): "v"}  # fmt: skip
    colors = {"bitfusion": "tab:blue", "unpu": "tab:red"}
    fig, axes = plt.subplots(2, 2, figsize=(9, 7), dpi=80, sharey=True)
    for row_i, metric in enumerate(METRICS):
        unique = {tuple(map(tuple, s)): s for s in clouds[metric]}
        accs = {k: net.accuracy(s, "test") for k, s in unique.items()}
        for col_i, design in enumerate(DESIGNS):
            ax = axes[row_i, col_i]
            pts = [(accs[k], relative(s, design, metric)) for k, s in unique.items()]
            ax.scatter([p[1] for p in pts], [p[0] for p in pts], s=6, c="0.75",
                       label="policies evaluated")  # fmt: skip
            front = [pts[i] for i in pareto_front(pts)]
            ax.plot([p[1] for p in front], [p[0] for p in front], "k-", lw=1,
                    label="Pareto front")  # fmt: skip
            for r in rows:
                if r["metric"] != metric:
                    continue
                found_for = r["searched_for"]
                ax.scatter(r[f"{metric}_on_{design}"], r["test_accuracy"], s=60,
                           marker=markers[found_for, r["search"]], c=colors[found_for],
                           edgecolors="k", zorder=3,
                           label=f"found for {DESIGNS[found_for]} ({r['search']})")  # fmt: skip
            ax.axvline(RATIO, color="0.4", ls=":", lw=1)
            ax.set_title(f"{metric} on {design} ({DESIGNS[design]})", fontsize=10)
            ax.set_xlabel(f"{metric} relative to 8/8")
            if col_i == 0:
                ax.set_ylabel("test accuracy (%)")
            ax.grid(alpha=0.3)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8)
    fig.suptitle(f"digits MLP: policies under a {RATIO:.0%} budget, cross-evaluated", fontsize=11)
    fig.tight_layout(rect=(0, 0.08, 1, 0.96))
    FIGURES.mkdir(parents=True, exist_ok=True)
    fig.savefig(FIGURES / "haq_pareto.png")
    print(f"wrote {FIGURES / 'haq_pareto.png'}")


if __name__ == "__main__":
    main()
