"""Make the figures and numbers of docs/tutorials/ems.md (run from the repository root)."""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl

mpl.use("Agg")
import matplotlib.pyplot as plt

import scgenome as sg

OUT = Path(__file__).parent / "figures"
OUT.mkdir(exist_ok=True)

# 1. simulate a training set and a new, unseen set of variants
vdata = sg.datasets.simulate_variants(4000, 60, rng=0)
new = sg.datasets.simulate_variants(1000, 60, rng=1)
print(vdata)

# 2. labels: model-5 thresholds, negatives matched 10:1 by gene and variant type
sg.pp.ems_labels(vdata, npr=10, rng=0)
print("labels:", vdata.uns["ems_labels"])

# 3. train with a chromosome split (the reference's evaluation)
model = sg.tl.ems_train(vdata, preset="fast", test=["chr1", "chr2"], rng=0)
print(model)
print("weights reached:", {k: len(v) for k, v in model.weight_report.items()})
print("held-out chr1+chr2:", {k: round(v, 3) for k, v in model.metrics["test"].items() if isinstance(v, float)})

# 4. leave-one-chromosome-out evaluation
sg.tl.ems_score(vdata, preset="fast", rng=0, prior=0.01)
m = vdata.uns["ems"]["metrics"]
print("LOCO:", {k: (round(v, 3) if isinstance(v, float) else v) for k, v in m.items()})
print(sg.get.ems_df(vdata, kind="chromosomes").head(5).round(3).to_string())
print(sg.get.ems_df(vdata, kind="importance").head(8).round(2).to_string())

fig = sg.pl.ems_curves(vdata, return_fig=True, show=False)
fig.savefig(OUT / "ems_curves.png", dpi=150)
ax = sg.pl.ems_importance(vdata, n_top=15, show=False)
ax.figure.savefig(OUT / "ems_importance.png", dpi=150)
ax = sg.pl.ems_calibration(vdata, show=False)
ax.figure.savefig(OUT / "ems_calibration.png", dpi=150)
plt.close("all")

# 5. score new variants with the trained model, save and reload it
model.save("ems_model")
loaded = sg.tl.EMSModel.load("ems_model.cbm")
sg.tl.ems_score(new, model=loaded, label="true_label", n_boot=0)
print("new variants:", {k: round(new.uns["ems"]["metrics"][k], 3) for k in ("ap", "auc", "base_rate")})
print(sg.get.ems_df(new).head(5).round(3).to_string())
for p in ("ems_model.cbm", "ems_model.json"):
    Path(p).unlink()
