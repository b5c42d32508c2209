#!/usr/bin/python3
"""Golden values for tests/eval_table_test.cpp, computed by SDMetrics itself (sdv-dev/SDMetrics at 54362a3c,
version 0.29.1.dev0, run from source) with Debian's pandas 1.5, numpy, scipy 1.10 and scikit-learn 1.2.

Run:  PYTHONPATH=/path/to/SDMetrics /usr/bin/python3 tests/reference/make_sdmetrics_golden.py

SDMetrics imports plotly and copulas at package level for plots and privacy attacks these metrics do not use;
when they are not installed this script puts empty stand-ins for them on the path (and package metadata for a
source checkout, which the report reads its version from).

Data: the penguins table of vega-datasets (344 rows, missing values in 5 columns). real = rows 0-199; holdout =
rows 200-343; synthetic = 180 rows drawn with replacement from all rows (numpy seed 7) with Gaussian noise on the
numeric columns (half a column standard deviation, rounded like the source), 10 % of Island values moved to
another island, and every 9th row an exact copy of a real row (so DCR 0 and matched rows occur).
Writes tests/reference/tabular/{real,synthetic,holdout}.csv and tests/reference/sdmetrics_golden.json.
"""
import json
import os
import sys
import tempfile

import numpy as np
import pandas as pd
import scipy
import sklearn
from sklearn.metrics import roc_auc_score

try:
    import plotly  # noqa: F401
    import copulas  # noqa: F401
except ImportError:
    stubs = tempfile.mkdtemp()
    for mod in ["plotly", "plotly/express", "plotly/graph_objects", "plotly/subplots", "plotly/io",
                "plotly/figure_factory", "copulas", "copulas/univariate", "copulas/univariate/base",
                "copulas/multivariate", "copulas/multivariate/base"]:
        os.makedirs(os.path.join(stubs, mod), exist_ok=True)
        with open(os.path.join(stubs, mod, "__init__.py"), "w") as f:
            f.write("def __getattr__(name):\n    return type(name, (object,), {})\n")
    sys.path.append(stubs)

import importlib.metadata  # noqa: E402

import sdmetrics  # noqa: E402

try:
    importlib.metadata.version("sdmetrics")
except importlib.metadata.PackageNotFoundError:  # a source checkout: the report asks for its version
    info = tempfile.mkdtemp()
    os.makedirs(os.path.join(info, "sdmetrics-%s.dist-info" % sdmetrics.__version__))
    with open(os.path.join(info, "sdmetrics-%s.dist-info" % sdmetrics.__version__, "METADATA"), "w") as f:
        f.write("Metadata-Version: 2.1\nName: sdmetrics\nVersion: %s\n" % sdmetrics.__version__)
    sys.path.append(info)
from sdmetrics.reports.single_table import QualityReport  # noqa: E402
from sdmetrics.single_column import KSComplement, TVComplement  # noqa: E402
from sdmetrics.single_table import NewRowSynthesis  # noqa: E402
from sdmetrics.single_table.privacy import DCROverfittingProtection  # noqa: E402
from sdmetrics.single_table.privacy.dcr_utils import calculate_dcr  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

penguins = pd.read_json(os.path.join(ROOT, "data/vega-datasets/data/penguins.json"))
numeric = ["Beak Length (mm)", "Beak Depth (mm)", "Flipper Length (mm)", "Body Mass (g)"]
categorical = ["Species", "Island", "Sex"]
real = penguins.iloc[:200].reset_index(drop=True)
holdout = penguins.iloc[200:].reset_index(drop=True)

rng = np.random.default_rng(7)
synthetic = penguins.iloc[rng.integers(0, len(penguins), 180)].reset_index(drop=True)
for col in numeric:
    decimals = 1 if "Beak" in col else 0
    noise = rng.normal(0, 0.5 * penguins[col].std(), len(synthetic))
    synthetic[col] = (synthetic[col] + noise).round(decimals)
islands = sorted(penguins["Island"].unique())
move = rng.random(len(synthetic)) < 0.1
synthetic.loc[move, "Island"] = [islands[(islands.index(v) + 1) % 3] for v in synthetic.loc[move, "Island"]]
for i in range(0, len(synthetic), 9):
    synthetic.iloc[i] = real.iloc[(i * 7) % len(real)]

out_dir = os.path.join(HERE, "tabular")
os.makedirs(out_dir, exist_ok=True)
for name, frame in [("real", real), ("synthetic", synthetic), ("holdout", holdout)]:
    frame.to_csv(os.path.join(out_dir, name + ".csv"), index=False)
# Read back what the C++ test reads, so both sides see the same numbers.
real, synthetic, holdout = (pd.read_csv(os.path.join(out_dir, n + ".csv")) for n in ("real", "synthetic", "holdout"))

metadata = {"columns": {c: {"sdtype": "numerical" if c in numeric else "categorical"} for c in real.columns}}
report = QualityReport()
report.generate(real, synthetic, metadata, verbose=False)
shapes = report.get_details("Column Shapes")
pairs = report.get_details("Column Pair Trends")
properties = report.get_properties()


def nan_to_none(v):
    return None if v is None or (isinstance(v, float) and np.isnan(v)) else float(v)


golden = {
    "provenance": "SDMetrics %s (54362a3c) from source, pandas %s, numpy %s, scipy %s, scikit-learn %s" % (
        sdmetrics.__version__, pd.__version__, np.__version__, scipy.__version__, sklearn.__version__),
    "numeric_columns": numeric,
    "categorical_columns": categorical,
    "quality_score": float(report.get_score()),
    "properties": {row["Property"]: float(row["Score"]) for _, row in properties.iterrows()},
    "column_shapes": [{"column": r["Column"], "metric": r["Metric"], "score": nan_to_none(r["Score"])}
                      for _, r in shapes.iterrows()],
    "column_pair_trends": [{"column_1": r["Column 1"], "column_2": r["Column 2"], "metric": r["Metric"],
                            "score": nan_to_none(r["Score"]), "real_correlation": nan_to_none(r["Real Correlation"]),
                            "synthetic_correlation": nan_to_none(r["Synthetic Correlation"]),
                            "real_association": nan_to_none(r["Real Association"]),
                            "meets_threshold": bool(r["Meets Threshold?"])}
                           for _, r in pairs.iterrows()],
    "ks_complement_body_mass": float(KSComplement.compute(real["Body Mass (g)"], synthetic["Body Mass (g)"])),
    "tv_complement_island": float(TVComplement.compute(real["Island"], synthetic["Island"])),
    "dcr_synthetic_to_real": [float(v) for v in calculate_dcr(synthetic, real, metadata)],
    "dcr_overfitting": DCROverfittingProtection.compute_breakdown(real, synthetic, holdout, metadata, None),
    "new_row_synthesis": NewRowSynthesis.compute_breakdown(real, synthetic, metadata),
}
golden["new_row_synthesis"] = {k: float(v) for k, v in golden["new_row_synthesis"].items()}

# sklearn's roc_auc_score with ties, on fixed scores.
labels = [1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 1]
scores = [0.9, 0.1, 0.4, 0.4, 0.4, 0.2, 0.8, 0.8, 0.3, 0.05, 0.6, 0.7]
golden["roc_auc"] = {"labels": labels, "scores": scores, "expected": float(roc_auc_score(labels, scores))}

with open(os.path.join(HERE, "sdmetrics_golden.json"), "w") as f:
    json.dump(golden, f, indent=1)
    f.write("\n")
