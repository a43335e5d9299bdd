"""The table of validate/ssl_control.sh (issue 11, done-when 3): the self-supervised rows against their
supervised counterparts and ridge, in the linked study and in the negative control, over seeds.

Usage: ssl_control_table.py OUT METRIC -- SEED...
  OUT/<study>-seed<S>/report/results.csv for study in (linked, control): one row per subject, model,
  training fraction and metric (validate/variants_table.py read_studies).

The unit of every test is the held-out subject (8 in the default study): each subject's difference is
computed within each seed's study and then averaged over seeds; queries never are units. For each
difference: the mean over subjects, each seed's mean over subjects (the spread a reader should see),
the subjects whose difference is > 0 and < 0, the exact two-sided sign-flip p over the subjects (2^8 patterns:
the smallest attainable p is 2/256 = 0.0078) and the exact two-sided Wilcoxon signed-rank p (scipy;
zero differences dropped).

Pre-declared family (fixed here before any number of this run was seen): the three SSL-vs-supervised
comparisons, each SSL row against the supervised row with the same start and training,
    encoder-ssl-adapter - encoder-adapter
    encoder-ssl-full - encoder-full
    encoder-ssl-only-full - encoder-scratch
Holm's correction is applied to the sign-flip p within that family of three, separately in the linked
study, in the control, and in the link's effect (the same difference in linked minus in control, per
subject: what linking the spontaneous fluctuation to the stimulus read-out adds). Each SSL row minus
ridge is reported with its uncorrected p only (descriptive, outside the family).
"""
import math
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from variants_table import read_studies, sign_flip_p  # noqa: E402

from scipy import stats  # noqa: E402

STUDIES = ("linked", "control")
FAMILY = (("encoder-ssl-adapter", "encoder-adapter"),
          ("encoder-ssl-full", "encoder-full"),
          ("encoder-ssl-only-full", "encoder-scratch"))
SSL_ROWS = tuple(a for a, _ in FAMILY)


def holm(ps):
    """Holm-adjusted p of ps (NaN stays NaN and takes no part in the family)."""
    finite = sorted((p, i) for i, p in enumerate(ps) if math.isfinite(p))
    m, out, running = len(finite), [float("nan")] * len(ps), 0.0
    for rank, (p, i) in enumerate(finite):
        running = max(running, min(1.0, (m - rank) * p))
        out[i] = running
    return out


def wilcoxon_p(d):
    """Exact two-sided Wilcoxon signed-rank p, zero differences dropped first (Wilcoxon's convention;
    top-1 differences among 40 candidates are often exactly 0, and scipy's exact test takes none)."""
    d = [x for x in d if abs(x) > 1e-12]
    if len(d) < 2:
        return float("nan")
    return float(stats.wilcoxon(d, method="exact" if len(d) <= 25 else "auto").pvalue)


def differences(value, fraction, a, b):
    """{seed: {subject: a - b}} within each seed's study (subjects with both rows)."""
    per_seed = {}
    for s, subjects in value.get((a, fraction), {}).items():
        base = value.get((b, fraction), {}).get(s, {})
        d = {sub: x - base[sub] for sub, x in subjects.items() if sub in base}
        if d:
            per_seed[s] = d
    return per_seed


def subject_means(per_seed):
    """{subject: mean over seeds}, over the subjects present in every seed."""
    if not per_seed:
        return {}
    common = set.intersection(*(set(d) for d in per_seed.values()))
    return {sub: statistics.fmean(d[sub] for d in per_seed.values()) for sub in sorted(common)}


def summary(per_seed, seeds):
    """(mean over subjects, per-seed means text, subjects > 0 / < 0 text, sign-flip p, Wilcoxon p)."""
    by_subject = subject_means(per_seed)
    d = list(by_subject.values())
    if not d:
        return None
    seed_text = " ".join(f"{statistics.fmean(per_seed[s].values()):+.3f}" if s in per_seed else "-"
                         for s in seeds)
    above, below = sum(x > 1e-12 for x in d), sum(x < -1e-12 for x in d)
    return statistics.fmean(d), seed_text, f"{above} / {below} of {len(d)}", sign_flip_p(d), wilcoxon_p(d)


def fmt_p(p):
    return "-" if not math.isfinite(p) else f"{p:.3g}"


def main():
    out, metric = Path(sys.argv[1]), sys.argv[2]
    seeds = sys.argv[sys.argv.index("--") + 1:]
    values = {st: read_studies(out, st, seeds, metric) for st in STUDIES}
    fractions = sorted({f for v in values.values() for (_, f) in v})
    for fraction in fractions:
        print(f"### {metric} at training fraction {fraction:g}")
        print()
        ran = {st: [s for s in seeds if any(s in v for v in values[st].values())] for st in STUDIES}
        print("Seeds with results: " + "; ".join(f"{st} {' '.join(ran[st]) or 'none'}" for st in STUDIES))
        print()
        print(f"| study | model | mean over subjects (seed-averaged) | per-seed means ({' '.join(seeds)}) |")
        print("|---|---|---|---|")
        for st in STUDIES:
            v = values[st]
            models = sorted({m for (m, f) in v if f == fraction}, key=lambda m: (m != "ridge", m))
            for m in models:
                per_seed = v[(m, fraction)]
                means = list(subject_means(per_seed).values())
                seed_text = " ".join(f"{statistics.fmean(per_seed[s].values()):.3f}" if s in per_seed else "-"
                                     for s in seeds)
                print(f"| {st} | {m} | {statistics.fmean(means):.3f} | {seed_text} |" if means else
                      f"| {st} | {m} | - | {seed_text} |")
        print()
        print(f"| study | difference | mean over subjects | per-seed means ({' '.join(seeds)}) | subjects > 0 / < 0 | "
              "sign-flip p | Holm p (family of 3) | Wilcoxon p |")
        print("|---|---|---|---|---|---|---|---|")

        def family_rows(label, per_seed_list):
            rows = [summary(ps, seeds) for ps in per_seed_list]
            adjusted = holm([r[3] if r else float("nan") for r in rows])
            for (a, b), r, h in zip(FAMILY, rows, adjusted):
                if r:
                    print(f"| {label} | {a} - {b} | {r[0]:+.3f} | {r[1]} | {r[2]} | {fmt_p(r[3])} | {fmt_p(h)} | "
                          f"{fmt_p(r[4])} |")

        for st in STUDIES:
            family_rows(st, [differences(values[st], fraction, a, b) for a, b in FAMILY])
        for st in STUDIES:
            for a in SSL_ROWS:
                r = summary(differences(values[st], fraction, a, "ridge"), seeds)
                if r:
                    print(f"| {st} | {a} - ridge | {r[0]:+.3f} | {r[1]} | {r[2]} | {fmt_p(r[3])} | (outside) | "
                          f"{fmt_p(r[4])} |")
        # the link's effect: (a - b) in linked minus (a - b) in control, per (seed, subject)
        link = []
        for a, b in FAMILY:
            linked = differences(values["linked"], fraction, a, b)
            control = differences(values["control"], fraction, a, b)
            link.append({s: {sub: x - control[s][sub] for sub, x in linked[s].items() if sub in control[s]}
                         for s in linked if s in control})
        family_rows("linked - control", link)
        print()


if __name__ == "__main__":
    main()
