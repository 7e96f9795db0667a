"""``scgenome ems train`` / ``scgenome ems score``: the sc-EMS command line.

``scgenome ems train --data-config data.yaml --model-config model.yaml`` trains a model and writes
the reference pipeline's outputs; ``scgenome ems score MODEL DATA`` scores new variants.

Data YAML keys
--------------
``data`` (required)
    An ``.h5ad`` file (variants x features; ``obs`` has ``chrom``, ``pos``) or a tab-separated
    table with one row per variant: ``chrom`` (or ``chr``), ``pos``, a label column and numeric
    feature columns (``ref``, ``alt``, ``gene``, ``variant_id``, ``pip`` and any text column are
    kept as metadata, not features).
``label`` (default ``label``; or ``null`` to use PIP thresholds on ``pip``)
    0/1 label column.
``pip`` (default ``pip``)
    PIP column.
``tss``, ``gene_table`` (optional)
    TSS table / gene-level table passed to :func:`scgenome.pp.variant_features`.
``test_chromosomes`` (optional)
    Chromosomes held out for evaluation (the reference's chromosome split). Without it the
    evaluation is leave-one-chromosome-out (``cv: loco``).
``output_dir`` (default ``ems_output``), ``output_prefix`` (default ``ems``)
    Where outputs go.

Model YAML keys (all optional)
------------------------------
``preset`` (``reference``/``fast``), ``params`` (CatBoost parameters), ``feature_weights``
(pattern -> weight), ``default_weight``, ``abs_features`` (patterns), ``class_weights``
(``balanced``/``pip``/``null``), ``early_stopping``, ``refit``, ``calibration``
(``platt``/``isotonic``/``null``), ``seed``, ``n_jobs``.

Outputs (``<output_dir>/<output_prefix>...``)
---------------------------------------------
``.cbm`` + ``.json`` (the model trained on all training chromosomes), ``_summary.txt`` (label
counts, AP, AUC, base rate, Brier), ``_feature_importance.csv``, ``_predictions.tsv``
(held-out predictions: the test chromosomes, or LOCO).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import argparse

    from anndata import AnnData

META_COLUMNS = ("chrom", "pos", "ref", "alt", "gene", "variant_id", "pip", "label", "ems_label", "positive")


def read_variants(path: str | Path, *, label: str | None = None) -> AnnData:
    """Read variants from an ``.h5ad`` file or a TSV table (see the module docstring)."""
    import anndata as ad

    path = Path(path)
    if not path.exists():
        msg = f"Data file {path} not found."
        raise ValueError(msg)
    if path.suffix == ".h5ad":
        return ad.read_h5ad(path)
    df = pd.read_csv(path, sep="\t")
    if "chrom" not in df.columns and "chr" in df.columns:
        df = df.rename(columns={"chr": "chrom"})
    meta = [c for c in df.columns if c in META_COLUMNS or c == label or not pd.api.types.is_numeric_dtype(df[c])]
    obs = df[meta].copy()
    if "chrom" in obs.columns:
        obs["chrom"] = obs["chrom"].astype(str)
    if "variant_id" in obs.columns:
        obs.index = obs["variant_id"].astype(str).to_numpy()
    else:
        obs.index = [f"v{i}" for i in range(len(obs))]
    feats = [c for c in df.columns if c not in meta]
    X = df[feats].to_numpy(dtype=np.float32)
    return ad.AnnData(X=X, obs=obs, var=pd.DataFrame(index=[str(f) for f in feats]))


def _load_yaml(path: str | Path) -> dict[str, Any]:
    import yaml

    path = Path(path)
    if not path.exists():
        msg = f"Config file {path} not found."
        raise ValueError(msg)
    return yaml.safe_load(path.read_text()) or {}


def _summary_lines(metrics: dict[str, Any], what: str) -> list[str]:
    lines = [f"evaluation: {what}"]
    for k in ("n", "n_positive", "base_rate", "ap", "auc", "brier", "ap_snv", "auc_snv"):
        if k in metrics:
            v = metrics[k]
            lines.append(f"{k}\t{v:.4f}" if isinstance(v, float) else f"{k}\t{v}")
    return lines


def _train(args: argparse.Namespace) -> int:
    import scgenome as sg

    dcfg = _load_yaml(args.data_config)
    mcfg = _load_yaml(args.model_config) if args.model_config else {}
    if "data" not in dcfg:
        msg = f"{args.data_config} needs a 'data' key (path to an .h5ad or a TSV)."
        raise ValueError(msg)
    label = dcfg.get("label", "label")
    pip = dcfg.get("pip", "pip")
    vdata = read_variants(dcfg["data"], label=label)
    if dcfg.get("tss"):
        vdata = sg.pp.variant_features(vdata, tss=dcfg["tss"], gene_table=dcfg.get("gene_table"))
    outdir = Path(args.out or dcfg.get("output_dir", "ems_output"))
    outdir.mkdir(parents=True, exist_ok=True)
    prefix = dcfg.get("output_prefix", "ems")
    if "n_jobs" in mcfg:
        sg.settings.n_jobs = int(mcfg["n_jobs"])
    opts: dict[str, Any] = {
        k: mcfg[k]
        for k in (
            "preset",
            "params",
            "feature_weights",
            "default_weight",
            "abs_features",
            "class_weights",
            "early_stopping",
            "refit",
            "calibration",
        )
        if k in mcfg
    }
    seed = mcfg.get("seed", 0)
    test = dcfg.get("test_chromosomes")
    if test:
        model = sg.tl.ems_train(vdata, label=label, pip=pip, test=[str(c) for c in test], rng=seed, **opts)
        held = vdata[vdata.obs["chrom"].astype(str).isin([str(c) for c in test])].copy()
        sg.tl.ems_score(held, model=model, label=label, pip=pip, shap=False, n_boot=0)
        scored, what = held, f"test chromosomes {test}"
    else:
        scored = vdata.copy()
        sg.tl.ems_score(scored, label=label, pip=pip, shap=False, rng=seed, **opts)
        model = sg.tl.ems_train(vdata, label=label, pip=pip, rng=seed, **opts)
        what = "leave-one-chromosome-out"
    model.save(outdir / prefix)
    pred = sg.get.ems_df(scored)
    pred.to_csv(outdir / f"{prefix}_predictions.tsv", sep="\t")
    imp = pd.DataFrame(
        {
            "feature": model.features,
            "importance": model.importance,
            "weight": [model.feature_weights[f] for f in model.features],
        }
    ).sort_values("importance", ascending=False)
    imp.to_csv(outdir / f"{prefix}_feature_importance.csv", index=False)
    metrics = scored.uns["ems"]["metrics"]  # pooled over the held-out variants, SNV-only AP / AUC included
    counts = [
        f"training labels: {model.metrics['n_positive']} positive, {model.metrics['n_negative']} negative",
        f"features: {len(model.features)}; up-weighted: {sum(w != 1.0 for w in model.feature_weights.values())}",
    ]
    for pattern, feats in model.weight_report.items():
        counts.append(f"weight pattern {pattern!r} reached {len(feats)} feature(s)")
    lines = counts + _summary_lines(metrics, what)
    (outdir / f"{prefix}_summary.txt").write_text("\n".join(lines) + "\n")
    sys.stdout.write("\n".join(lines) + f"\noutputs in {outdir}\n")
    return 0


def _score(args: argparse.Namespace) -> int:
    import scgenome as sg
    from scgenome.tl._ems._model import EMSModel

    model = EMSModel.load(args.model)
    vdata = read_variants(args.data, label=args.label)
    if args.tss:
        vdata = sg.pp.variant_features(vdata, tss=args.tss)
    if args.label and args.label not in vdata.obs.columns:
        msg = f"--label {args.label!r}: no such column in {args.data} (columns: {list(vdata.obs.columns)[:20]})."
        raise ValueError(msg)
    label = args.label or None
    extra = [f for f in vdata.var_names if f not in set(model.features)]
    if extra:
        vdata = vdata[:, [f for f in vdata.var_names if f in set(model.features)]].copy()
        sys.stderr.write(f"ignoring {len(extra)} feature(s) the model does not use\n")
    sg.tl.ems_score(vdata, model=model, label=label, n_boot=0, shap=False)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sg.get.ems_df(vdata).to_csv(out, sep="\t")
    lines = [f"scored {vdata.n_obs} variants -> {out}"]
    m = vdata.uns["ems"]["metrics"]
    if m:
        lines += _summary_lines(m, f"labels {label!r}")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def register(subparsers: Any) -> None:
    """Add ``scgenome ems train`` and ``scgenome ems score``."""
    ems = subparsers.add_parser("ems", help="sc-EMS variant scores: train a model, score variants")
    sub = ems.add_subparsers(dest="ems_command")
    tr = sub.add_parser("train", help="train a model and write model, summary, importance and predictions")
    tr.add_argument("--data-config", required=True, help="data YAML (data, label, test_chromosomes, ...)")
    tr.add_argument("--model-config", default=None, help="model YAML (preset, params, feature_weights, ...)")
    tr.add_argument("--out", default=None, help="output folder (overrides output_dir)")
    tr.set_defaults(func=_train)
    sc = sub.add_parser("score", help="score variants with a saved model")
    sc.add_argument("model", help="saved model (.cbm / .json / stem)")
    sc.add_argument("data", help="variants: .h5ad or TSV")
    sc.add_argument("--out", default="ems_predictions.tsv", help="predictions TSV (default ems_predictions.tsv)")
    sc.add_argument("--label", default=None, help="label column for AP/AUC (optional)")
    sc.add_argument("--tss", default=None, help="TSS table to build distance features first")
    sc.set_defaults(func=_score)
    ems.set_defaults(func=lambda _args: ems.print_help() or 0)


__all__ = ["read_variants", "register"]
