"""``scgenome ems train`` / ``scgenome ems score``: the sc-EMS command line.

``scgenome ems train --data-config data.yaml --model-config model.yaml`` trains a model and writes
the reference pipeline's outputs; ``scgenome ems score MODEL DATA`` scores new variants.

Data YAML keys
--------------
``data`` (required)
    An ``.h5ad`` file (variants x features; ``obs`` has ``chrom``, ``pos``) or a tab-separated
    table with one row per variant: ``chrom`` (or ``chr``), ``pos``, a label column and numeric
    feature columns (``ref``, ``alt``, ``gene``, ``variant_id``, ``snp``, ``pip`` and any text
    column are kept as metadata, not features). Without ``chrom``/``pos``, a ``snp`` column gives
    them, in one of the forms ``chrom-start-end`` (BED-style, as pgBoost's ``training.tsv``:
    ``pos`` = ``end``), ``chrom:pos`` or ``chrom:pos:ref:alt`` (``chr`` prefixes kept as written).
    Rows repeated exactly (every column equal) are dropped, with a warning.
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

META_COLUMNS = (
    "chrom",
    "pos",
    "ref",
    "alt",
    "gene",
    "variant_id",
    "snp",
    "pip",
    "label",
    "ems_label",
    "positive",
)
#: The ``snp`` forms that give ``chrom`` and ``pos`` (help text and error messages).
SNP_FORMS = "chrom-start-end (BED-style, pos = end), chrom:pos or chrom:pos:ref:alt"


def _coords_from_snp(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    """``chrom``, ``pos`` (and ``ref``/``alt`` when absent) from the ``snp`` column; raise naming the rows."""
    snp = df["snp"].astype(str).str.strip()
    bed = snp.str.extract(r"^(?P<chrom>[^-:\s]+)-(?P<start>\d+)-(?P<end>\d+)$")
    colon = snp.str.extract(r"^(?P<chrom>[^-:\s]+):(?P<pos>\d+)(?::(?P<ref>[^:\s]+):(?P<alt>[^:\s]+))?$")
    is_bed, is_colon = bed["chrom"].notna(), colon["chrom"].notna()
    bad = ~(is_bed | is_colon) | df["snp"].isna()
    if bad.any():
        rows = ", ".join(f"line {i + 2}: {df['snp'].iloc[i]!r}" for i in np.flatnonzero(bad.to_numpy())[:5])
        msg = (
            f"Data file {path}: column 'snp' has {int(bad.sum())} value(s) in none of the forms {SNP_FORMS} "
            f"({rows}). Fix them, or add 'chrom' and 'pos' columns (then 'snp' is kept as metadata)."
        )
        raise ValueError(msg)
    bed_bad = is_bed & (bed["start"].astype(float) >= bed["end"].astype(float).where(is_bed))
    if bed_bad.any():
        i = int(np.flatnonzero(bed_bad.to_numpy())[0])
        msg = f"Data file {path}: 'snp' {df['snp'].iloc[i]!r} (line {i + 2}) has start >= end (chrom-start-end)."
        raise ValueError(msg)
    out = df.copy()
    out["chrom"] = bed["chrom"].where(is_bed, colon["chrom"]).to_numpy()
    out["pos"] = bed["end"].where(is_bed, colon["pos"]).astype(np.int64).to_numpy()
    for c in ("ref", "alt"):
        if c not in out.columns and colon[c].notna().any():
            out[c] = colon[c].to_numpy()
    return out


def read_variants(path: str | Path, *, label: str | None = None) -> AnnData:
    """Read variants from an ``.h5ad`` file or a TSV table (see the module docstring)."""
    import anndata as ad

    from ._logging import logger
    from ._validation import reading

    path = Path(path)
    if not path.exists():
        msg = f"Data file {path} not found."
        raise ValueError(msg)
    if path.suffix == ".h5ad":
        with reading(path, ".h5ad file", errors=(OSError, KeyError)):
            return ad.read_h5ad(path)
    with reading(path, "variant table (TSV)", errors=(OSError,)):
        df = pd.read_csv(path, sep="\t")
    if "chrom" not in df.columns and "chr" in df.columns:
        df = df.rename(columns={"chr": "chrom"})
    if not {"chrom", "pos"} <= set(df.columns):
        if "snp" not in df.columns:
            msg = (
                f"Data file {path} has neither 'chrom' and 'pos' columns nor a 'snp' column ({SNP_FORMS}); add "
                f"'chrom' (or 'chr') and 'pos' columns (1-based positions). Columns: {list(df.columns)[:20]}."
            )
            raise ValueError(msg)
        df = _coords_from_snp(df, path)
    dup = df.duplicated()
    if dup.any():
        logger.warning("ems: %d row(s) of %s repeat an earlier row exactly; dropped", int(dup.sum()), path)
        df = df[~dup.to_numpy()].reset_index(drop=True)
    meta = [c for c in df.columns if c in META_COLUMNS or c == label or not pd.api.types.is_numeric_dtype(df[c])]
    obs = df[meta].copy()
    if "chrom" in obs.columns:
        obs["chrom"] = obs["chrom"].astype(str)
    names = None
    if "variant_id" in obs.columns:
        names = obs["variant_id"].astype(str)
    elif "snp" in obs.columns:
        names = obs["snp"].astype(str)
        if not names.is_unique and "gene" in obs.columns:
            names = names + ":" + obs["gene"].astype(str)
    if names is not None and names.is_unique:
        obs.index = names.to_numpy()
    else:
        obs.index = [f"v{i}" for i in range(len(obs))]
    feats = [c for c in df.columns if c not in meta]
    X = df[feats].to_numpy(dtype=np.float32)
    return ad.AnnData(X=X, obs=obs, var=pd.DataFrame(index=[str(f) for f in feats]))


def _load_yaml(path: str | Path) -> dict[str, Any]:
    import yaml

    from ._validation import reading

    path = Path(path)
    if not path.exists():
        msg = f"Config file {path} not found."
        raise ValueError(msg)
    with reading(path, "YAML config file", errors=(yaml.YAMLError,)):
        cfg = yaml.safe_load(path.read_bytes().decode("utf-8"))
    if cfg is None:
        return {}
    if not isinstance(cfg, dict):
        msg = f"Config file {path} must hold a mapping of keys (key: value lines), got a {type(cfg).__name__}."
        raise ValueError(msg)
    return cfg


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
    outdir = Path(args.out or dcfg.get("output_dir", "ems_output"))
    _check_outdir(outdir)
    vdata = read_variants(dcfg["data"], label=label)
    if dcfg.get("tss"):
        vdata = sg.pp.variant_features(vdata, tss=dcfg["tss"], gene_table=dcfg.get("gene_table"))
    if vdata.n_vars == 0:
        msg = (
            f"{dcfg['data']} has no numeric feature columns; add a 'tss:' key (a TSS table with gene, chr, tss) to "
            f"{args.data_config} to build distance features from 'gene' and the positions, or add feature columns."
        )
        raise ValueError(msg)
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
    outdir.mkdir(parents=True, exist_ok=True)  # only once training succeeded
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


def _check_outdir(outdir: Path) -> None:
    """Raise a ValueError when ``outdir`` cannot be created or written (before any training)."""
    import os

    existing = next((a for a in (outdir, *outdir.parents) if a.exists()), None)
    if existing is None:
        return
    if not existing.is_dir():
        msg = f"Output folder {outdir}: {existing} is a file, not a folder; choose another --out / output_dir."
        raise ValueError(msg)
    if not os.access(existing, os.W_OK | os.X_OK):
        msg = f"Output folder {outdir}: {existing} is not writable; choose another --out / output_dir."
        raise ValueError(msg)


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
    tr.add_argument(
        "--data-config",
        required=True,
        help="data YAML (data, label, tss, test_chromosomes, ...); the data table needs 'chrom' and 'pos' columns, "
        f"or a 'snp' column in one of the forms {SNP_FORMS}",
    )
    tr.add_argument("--model-config", default=None, help="model YAML (preset, params, feature_weights, ...)")
    tr.add_argument("--out", default=None, help="output folder (overrides output_dir)")
    tr.set_defaults(func=_train)
    sc = sub.add_parser("score", help="score variants with a saved model")
    sc.add_argument("model", help="saved model (.cbm / .json / stem)")
    sc.add_argument("data", help=f"variants: .h5ad or TSV (chrom and pos columns, or snp as {SNP_FORMS})")
    sc.add_argument("--out", default="ems_predictions.tsv", help="predictions TSV (default ems_predictions.tsv)")
    sc.add_argument("--label", default=None, help="label column for AP/AUC (optional)")
    sc.add_argument("--tss", default=None, help="TSS table to build distance features first")
    sc.set_defaults(func=_score)
    ems.set_defaults(func=lambda _args: ems.print_help() or 0)


__all__ = ["read_variants", "register"]
