#!/usr/bin/python3
"""Golden values for the agreement statistics of tests/human_eval_test.cpp (genforge rate summarize), computed by
nltk 3.8 (Debian python3-nltk), the peer library: nltk.metrics.agreement.AnnotationTask

  .kappa()  the mean of Cohen's kappa over all pairs of coders (needs every coder to code every item),
  .alpha()  Krippendorff's alpha: binary_distance = nominal, interval_distance = interval (missing values: a coder
            simply has no triple for that item; items with fewer than two values are left out).

Fleiss' kappa is not in nltk: it is computed here by hand from Fleiss (1971) and checked against Wikipedia's
worked example (10 items x 14 raters, kappa = 0.210).

Data sets (ratings: one list per rater, one entry per unit, null = not rated):
  krippendorff_2011  Krippendorff's "Computing Krippendorff's Alpha-Reliability" (2011) example: 4 coders, 12 units,
                     missing values; he reports alpha 0.743 (nominal) and 0.849 (interval).
  cohen_wikipedia    Wikipedia's Cohen's kappa example: 50 items, yes/yes 20, yes/no 5, no/yes 10, no/no 15; 0.4.
  pairs_four_raters  4 raters x 30 pair questions coded 0 left, 1 right, 2 tie (random.Random(5), 75 % follow a
                     shared "truth"): kappa, Fleiss, nominal alpha.
  likert_three_raters  3 raters x 25 items rated 1..5 (random.Random(9), truth + noise), 4 ratings missing from the
                     third rater's list in the alpha-only copy.
  fleiss_wikipedia   the counts table of Wikipedia's Fleiss' kappa example, and the same as a 14 x 10 rating matrix.

Run: /usr/bin/python3 tests/reference/make_agreement_golden.py   (writes tests/reference/agreement_golden.json)
"""
import json
import os
import random

from nltk.metrics.agreement import AnnotationTask
from nltk.metrics.distance import binary_distance, interval_distance


def triples(ratings):
    return [(f"r{r}", f"u{u:03d}", v) for r, row in enumerate(ratings) for u, v in enumerate(row) if v is not None]


def nltk_kappa(ratings):
    return AnnotationTask(triples(ratings)).kappa()


def nltk_alpha(ratings, distance):
    return AnnotationTask(triples(ratings), distance=distance).alpha()


def fleiss_counts(counts):
    n_units = len(counts)
    raters = sum(counts[0])
    assert all(sum(row) == raters for row in counts)
    shares = [sum(row[c] for row in counts) / (n_units * raters) for c in range(len(counts[0]))]
    agreement = sum((sum(x * x for x in row) - raters) / (raters * (raters - 1)) for row in counts) / n_units
    chance = sum(p * p for p in shares)
    return (agreement - chance) / (1 - chance)


def fleiss_ratings(ratings):
    units = [u for u in range(len(ratings[0])) if all(row[u] is not None for row in ratings)]
    categories = sorted({row[u] for row in ratings for u in units})
    return fleiss_counts([[sum(1 for row in ratings if row[u] == c) for c in categories] for u in units])


nan = None
krippendorff_2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
    [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
]

cohen_wikipedia = [["yes"] * 20 + ["yes"] * 5 + ["no"] * 10 + ["no"] * 15,
                   ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15]
cohen_codes = [[1 if v == "yes" else 0 for v in row] for row in cohen_wikipedia]

rng = random.Random(5)
truth = [rng.choice([0, 1, 1, 2]) for _ in range(30)]
pairs_four_raters = [[t if rng.random() < 0.75 else rng.choice([0, 1, 2]) for t in truth] for _ in range(4)]

rng = random.Random(9)
quality = [rng.randint(1, 5) for _ in range(25)]
likert_three_raters = [[min(5, max(1, q + rng.choice([-1, 0, 0, 0, 1]))) for q in quality] for _ in range(3)]
likert_missing = [list(row) for row in likert_three_raters]
for u in (2, 7, 11, 19):
    likert_missing[2][u] = None

fleiss_table = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
                [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
# The same as ratings: rater r of unit u gives the r-th category in the unit's sorted list of 14 category labels.
fleiss_matrix = [[None] * len(fleiss_table) for _ in range(14)]
for u, row in enumerate(fleiss_table):
    labels = [c + 1 for c, n in enumerate(row) for _ in range(n)]
    for r, label in enumerate(labels):
        fleiss_matrix[r][u] = label

golden = {
    "source": "nltk " + __import__("nltk").__version__ + " AnnotationTask; Fleiss by hand (Fleiss 1971)",
    "krippendorff_2011": {
        "ratings": krippendorff_2011,
        "alpha_nominal": nltk_alpha(krippendorff_2011, binary_distance),
        "alpha_interval": nltk_alpha(krippendorff_2011, interval_distance),
        "published_alpha_nominal": 0.743,
        "published_alpha_interval": 0.849,
    },
    "cohen_wikipedia": {"ratings": cohen_codes, "kappa": nltk_kappa(cohen_wikipedia), "published_kappa": 0.4},
    "pairs_four_raters": {
        "ratings": pairs_four_raters,
        "mean_pairwise_kappa": nltk_kappa(pairs_four_raters),
        "fleiss_kappa": fleiss_ratings(pairs_four_raters),
        "alpha_nominal": nltk_alpha(pairs_four_raters, binary_distance),
    },
    "likert_three_raters": {
        "ratings": likert_three_raters,
        "mean_pairwise_kappa": nltk_kappa(likert_three_raters),
        "fleiss_kappa": fleiss_ratings(likert_three_raters),
        "alpha_nominal": nltk_alpha(likert_three_raters, binary_distance),
        "alpha_interval": nltk_alpha(likert_three_raters, interval_distance),
        "missing_ratings": likert_missing,
        "missing_alpha_interval": nltk_alpha(likert_missing, interval_distance),
        "missing_alpha_nominal": nltk_alpha(likert_missing, binary_distance),
    },
    "fleiss_wikipedia": {
        "counts": fleiss_table,
        "ratings": fleiss_matrix,
        "fleiss_kappa": fleiss_counts(fleiss_table),
        "published_fleiss_kappa": 0.210,
        "alpha_nominal": nltk_alpha(fleiss_matrix, binary_distance),
    },
}

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "agreement_golden.json")
with open(path, "w") as out:
    json.dump(golden, out, indent=1)
    out.write("\n")
print(json.dumps({k: {kk: vv for kk, vv in v.items() if not isinstance(vv, list)} if isinstance(v, dict) else v
                  for k, v in golden.items()}, indent=1))
