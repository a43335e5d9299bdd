"""The tables of validate/variants.sh, from each (variant, seed) study's report/results.csv.

Usage: variants_table.py OUT METRIC VARIANT... -- SEED...
  OUT/<variant>-seed<S>/report/results.csv, one row per subject, model, training fraction and metric.

Table 1, every model at each fraction: the mean over subjects of METRIC in each seed's study, then
the mean and the SD (n - 1) of those over seeds.
Table 2, each model against ridge at the same fraction, paired within subject: d = model - ridge per
(seed, subject); table 3 the same against encoder-scratch (the gain of pooling subjects for the same
network: in the negative control, shared_latent false, it is what must not appear). Mean of d over seeds' subject-means with its SD across seeds; seeds whose mean d
is > 0; the exact two-sided sign-flip p over the seeds' mean d (independent simulations: the honest
unit; with 5 seeds the smallest attainable p is 2/32 = 0.0625) and over the (seed, subject) units
(more power, but the subjects of one study share data: each one's pretraining pools the others).
Table 4, each pooled model on a variant minus the same model in one of its controls (CONTROLS: the same
simulation and seeds, so the same data, with study.control: shuffled_pooled_labels, or with backbones
left untrained), paired within (seed, subject): what the other subjects' true brain <-> feature pairing,
or pretraining at all, adds.
"""
import bisect
import csv
import itertools
import math
import statistics
import sys
from collections import defaultdict
from pathlib import Path


def sign_sums(d):
    """Every signed sum of d (2^len(d) values), sorted."""
    return sorted(sum(s * x for s, x in zip(signs, d)) for signs in itertools.product((1.0, -1.0), repeat=len(d)))


def sign_flip_p(d):
    """Exact two-sided sign-flip p of mean(d) = 0 over all 2^n sign patterns (n <= ~26): the
    patterns of the two halves of d are enumerated apart and paired through sorting."""
    d = [x for x in d if math.isfinite(x)]
    if not d:
        return float("nan")
    observed = abs(sum(d)) - 1e-12 * max(1.0, abs(sum(d)))
    if observed <= 0:
        return 1.0
    half = len(d) // 2
    a, b = sign_sums(d[:half]), sign_sums(d[half:])
    extreme = 0
    for x in a:  # pairs with x + y >= observed or x + y <= -observed
        extreme += len(b) - bisect.bisect_left(b, observed - x)
        extreme += bisect.bisect_right(b, -observed - x)
    return extreme / (len(a) * len(b))


# control variant -> the variant it is a control of, and the models it leaves alone
CONTROLS = {"shuffled_pooled": ("current", ("ridge", "encoder-scratch")),
            "untrained_backbone": ("current", ("ridge", "encoder-scratch", "align-ridge"))}


def paired_row(label, a, b):
    """The table row of a - b, a and b: value[(model, fraction)] of two studies, paired within
    (seed, subject); None when they share no unit."""
    seed_means, units = [], []
    for s, subjects in a.items():
        base = b.get(s, {})
        d = [subjects[sub] - base[sub] for sub in subjects if sub in base]
        if d:
            seed_means.append(statistics.fmean(d))
            units.extend(d)
    if not seed_means:
        return None
    m, sd = mean_sd(seed_means)
    # a seed whose mean difference is 0 up to rounding (identical predictions) is not "> 0"
    above = sum(x > 1e-12 for x in seed_means)
    return (f"| {label} | {m:+.3f} | {sd:.3f} | {above}/{len(seed_means)} | "
            f"{sign_flip_p(seed_means):.3g} | {sign_flip_p(units):.3g} ({len(units)}) |")


def read_studies(out, name, seeds, metric):
    """value[(model, fraction)][seed][subject] of METRIC from OUT/<name>-seed<S>/report/results.csv
    over SEEDS (a seed without that file is left out; non-finite values too)."""
    value = defaultdict(lambda: defaultdict(dict))
    for s in seeds:
        path = out / f"{name}-seed{s}" / "report" / "results.csv"
        if not path.exists():
            continue
        with open(path) as f:
            for row in csv.DictReader(f):
                if row["metric"] != metric:
                    continue
                x = float(row["value"])
                if math.isfinite(x):
                    value[(row["model"], float(row["train_fraction"]))][s][row["subject"]] = x
    return value


def mean_sd(values):
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def main():
    out, metric = Path(sys.argv[1]), sys.argv[2]
    split = sys.argv.index("--")
    variants, seeds = sys.argv[3:split], sys.argv[split + 1:]
    print(f"| variant | model | train_fraction | {metric}: mean over seeds | SD across seeds | seeds |")
    print("|---|---|---|---|---|---|")
    references = ["ridge", "encoder-scratch"]
    paired_rows = {r: [] for r in references}
    by_variant = {}
    for v in variants:
        value = read_studies(out, v, seeds, metric)
        by_variant[v] = value
        keys = sorted(value, key=lambda k: (k[0] != "ridge", k[0], k[1]))
        for model, fraction in keys:
            per_seed = [statistics.fmean(v_s.values()) for v_s in value[(model, fraction)].values()]
            m, sd = mean_sd(per_seed)
            print(f"| {v} | {model} | {fraction:g} | {m:.3f} | {sd:.3f} | {len(per_seed)} |")
        for ref, (model, fraction) in itertools.product(references, keys):
            if model in ("ridge", ref) or (ref, fraction) not in value:
                continue
            row = paired_row(f"{v} | {model} | {fraction:g}", value[(model, fraction)], value[(ref, fraction)])
            if row:
                paired_rows[ref].append(row)
    for ref in references:
        print()
        print(f"| variant | model | train_fraction | {metric} - {ref}: mean over seeds | SD across seeds | "
              "seeds > 0 | sign-flip p, seeds | sign-flip p, (seed, subject) units (n) |")
        print("|---|---|---|---|---|---|---|---|")
        for r in paired_rows[ref]:
            print(r)
    control_rows = []
    for control, (v, untouched) in CONTROLS.items():
        if control not in by_variant or v not in by_variant:
            continue
        true, shuffled = by_variant[v], by_variant[control]
        for model, fraction in sorted(true, key=lambda k: (k[0], k[1])):
            if model in untouched or (model, fraction) not in shuffled:
                continue
            row = paired_row(f"{v} | {control} | {model} | {fraction:g}", true[(model, fraction)],
                             shuffled[(model, fraction)])
            if row:
                control_rows.append(row)
    if control_rows:
        print()
        print(f"| variant | control | model | train_fraction | {metric} - the same in the control: mean over seeds | "
              "SD across seeds | seeds > 0 | sign-flip p, seeds | sign-flip p, (seed, subject) units (n) |")
        print("|---|---|---|---|---|---|---|---|---|")
        for r in control_rows:
            print(r)


if __name__ == "__main__":
    main()
