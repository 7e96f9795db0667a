"""sc-EMS variant scores: weighting, LOCO, truth recovery, real data, errors, storage, calibration, plots, CLI."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from anndata import AnnData

import scgenome as sg
from scgenome.tl._ems import _score
from scgenome.tl._ems._calibrate import expit, logit
from scgenome.tl._ems._metrics import average_precision, roc_auc
from scgenome.tl._ems._model import prepare_matrix, resolve_abs, resolve_weights


@pytest.fixture(scope="module")
def sim():
    return sg.datasets.simulate_variants(2000, 30, rng=1)


@pytest.fixture(scope="module")
def scored(sim):
    return sg.tl.ems_score(sim, preset="fast", rng=0, n_boot=50, prior=0.01, copy=True)


@pytest.fixture(scope="module")
def small():
    v = sg.datasets.simulate_variants(1200, 20, n_chromosomes=4, rng=2)
    v.obs["label"] = v.obs["true_label"].to_numpy()
    return v


# ------------------------------------------------------------------ weighting and features
def test_weight_patterns_reach_the_right_features():
    names = ["diff_32_0", "diff_32_1", "length_diff", "chrombpnet_positive_3", "tf_positive_CTCF", "gnomad_MAF"]
    w, report = resolve_weights(names, {"chrombpnet_positive": 10, "tf_positive": 10, "diff_*": 10}, 1.0)
    assert w.tolist() == [10, 10, 1, 10, 10, 1]
    assert report == {
        "chrombpnet_positive": ["chrombpnet_positive_3"],
        "tf_positive": ["tf_positive_CTCF"],
        "diff_*": ["diff_32_0", "diff_32_1"],
    }
    assert resolve_abs(names, ("diff_*", "tf_*", "chrombpnet_*")) == [
        "diff_32_0",
        "diff_32_1",
        "chrombpnet_positive_3",
        "tf_positive_CTCF",
    ]
    X = np.array([[-1.0, 2.0, -3.0, -4.0, -5.0, np.inf]])
    P = prepare_matrix(X, names, resolve_abs(names, ("diff_*", "tf_*", "chrombpnet_*")))
    assert P[0, :5].tolist() == [1, 2, -3, 4, 5]  # length_diff keeps its sign
    assert np.isnan(P[0, 5])  # inf -> missing


def test_trained_model_carries_weights_to_catboost(small):
    model = sg.tl.ems_train(small, label="label", preset="fast", rng=0)
    cb_w = model.booster.get_params()["feature_weights"]
    expect = [10.0 if f.startswith(("diff_", "chrombpnet_positive", "tf_positive")) else 1.0 for f in model.features]
    assert list(map(float, cb_w)) == expect
    assert model.feature_weights["length_diff"] == 1.0
    assert "length_diff" not in model.weight_report["diff_*"]
    assert "length_diff" not in model.abs_features
    assert {"diff_32_0", "tf_positive_0", "chrombpnet_positive_0"} <= set(model.abs_features)


# ------------------------------------------------------------------ LOCO
def test_loco_never_scores_with_a_model_that_saw_the_chromosome(small, monkeypatch):
    seen: list[set[str]] = []
    orig = _score.fit_model

    def recording(X, y, features, *, chrom, **kw):
        seen.append(set(np.asarray(chrom).tolist()))
        return orig(X, y, features, chrom=chrom, **kw)

    monkeypatch.setattr(_score, "fit_model", recording)
    out = sg.tl.ems_score(small, label="label", preset="fast", rng=0, n_boot=0, copy=True)
    chroms = set(small.obs["chrom"].astype(str))
    assert len(seen) == len(chroms)
    # each fold trained on all chromosomes but exactly one
    held = [next(iter(chroms - s)) for s in seen]
    assert sorted(held) == sorted(chroms)
    assert all(len(chroms - s) == 1 for s in seen)
    # and each variant's scoring fold is its own chromosome, whose model did not train on it
    fold = out.obs["ems_fold"].astype(str).to_numpy()
    assert (fold == out.obs["chrom"].astype(str).to_numpy()).all()
    folds = out.uns["ems"]["folds"]
    for c, row in folds.iterrows():
        assert c not in row["train_chromosomes"].split(",")
        assert row["n_scored"] == int((fold == c).sum())


def test_loco_recovers_simulated_truth(scored):
    m = scored.uns["ems"]["metrics"]
    ok = scored.obs["ems_label_used"].notna().to_numpy()
    y = scored.obs["ems_label_used"].to_numpy()[ok]
    oracle = roc_auc(y, scored.obs["true_prob"].to_numpy()[ok])
    assert m["auc"] > 0.8
    assert m["auc"] > oracle - 0.1
    assert m["ap"] > 2.5 * m["base_rate"]
    lo, hi = m["auc_ci"]
    assert lo < m["auc"] < hi
    imp = sg.get.ems_df(scored, kind="importance")
    top10 = set(imp["feature"].head(10))
    informative = set(scored.uns["simulation"]["informative"])
    assert len(top10 & informative) >= 6
    assert imp["feature"].iloc[0] in informative
    assert "length_diff" not in set(imp["feature"].head(10))
    # per-chromosome table and SNV-only metrics
    table = sg.get.ems_df(scored, kind="chromosomes")
    assert len(table) == 22
    assert {"n", "positives", "ap", "auc"} <= set(table.columns)
    assert table["n"].sum() == m["n"]
    assert 0 < m["ap_snv"] < 1
    assert m["n_snv"] < m["n"]


def test_bare_call_uses_pip_thresholds(scored, sim):
    pip = sim.obs["pip"].to_numpy()
    lab = scored.obs["ems_label_used"].to_numpy()
    grey = (pip >= 0.01) & (pip <= 0.1)
    assert grey.any()
    assert np.isnan(lab[grey]).all()
    assert (lab[pip > 0.1] == 1).all()
    assert (lab[pip < 0.01] == 0).all()
    # unlabelled variants are still scored, by their chromosome's fold
    assert np.isfinite(scored.obs["ems"].to_numpy()[grey]).all()
    assert scored.uns["ems"]["metrics"]["n"] == int((~grey).sum())


def test_metrics_match_sklearn(scored):
    from sklearn.metrics import average_precision_score, roc_auc_score

    ok = scored.obs["ems_label_used"].notna().to_numpy()
    y = scored.obs["ems_label_used"].to_numpy()[ok]
    s = scored.obs["ems"].to_numpy()[ok]
    assert average_precision(y, s) == pytest.approx(average_precision_score(y, s), abs=1e-12)
    assert roc_auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    s_tied = np.round(s, 1)
    assert average_precision(y, s_tied) == pytest.approx(average_precision_score(y, s_tied), abs=1e-12)


def test_same_rng_same_scores(small):
    a = sg.tl.ems_score(small, label="label", preset="fast", rng=5, n_boot=0, copy=True)
    b = sg.tl.ems_score(small, label="label", preset="fast", rng=5, n_boot=0, copy=True)
    np.testing.assert_array_equal(a.obs["ems"].to_numpy(), b.obs["ems"].to_numpy())


def test_chromosome_without_positives_is_reported(small):
    v = small.copy()
    v.obs.loc[v.obs["chrom"] == "chr4", "label"] = 0
    sg.tl.ems_score(v, label="label", preset="fast", rng=0, n_boot=0, shap=False)
    row = v.uns["ems"]["per_chromosome"].loc["chr4"]
    assert row["positives"] == 0
    assert np.isnan(row["ap"])
    assert np.isnan(row["auc"])
    assert np.isfinite(v.uns["ems"]["metrics"]["auc"])


# ------------------------------------------------------------------ real data
@pytest.mark.realdata
@pytest.mark.slow
def test_real_gtex_links_loco(data_path):
    d = data_path("pgboost-gtex-eqtl-links")
    t = pd.read_csv(d / "training.tsv", sep="\t")
    parts = t["snp"].str.split("-", expand=True)
    obs = pd.DataFrame(
        {
            "chrom": parts[0].to_numpy(),
            "pos": parts[2].astype(int).to_numpy(),
            "gene": t["gene"].to_numpy(),
            "label": t["positive"].to_numpy(),
        }
    )
    with pytest.raises(ValueError, match="duplicated variants"):
        sg.tl.ems_score(
            sg.pp.variant_features(AnnData(obs=obs.set_axis([f"r{i}" for i in range(len(obs))])), tss=d / "TSS.txt.gz")
        )
    obs = obs[~obs.duplicated(["chrom", "pos", "gene"])]
    obs.index = (obs["chrom"] + ":" + obs["pos"].astype(str) + ":" + obs["gene"]).to_numpy()
    vdata = sg.pp.variant_features(AnnData(obs=obs), tss=d / "TSS.txt.gz")
    assert "abs_distance_TSS_log" in vdata.var_names
    assert vdata.n_obs == 7871
    t0 = time.perf_counter()
    sg.tl.ems_score(vdata, rng=0, n_boot=100)
    elapsed = time.perf_counter() - t0
    m = vdata.uns["ems"]["metrics"]
    print(f"real LOCO: AUC {m['auc']:.4f} AP {m['ap']:.4f} in {elapsed:.1f} s")
    assert m["auc"] >= 0.80
    assert m["ap"] >= 0.335
    # distance alone: 0.796 / 0.339 (README); the model must not be worse than that in AUC
    dist = -vdata[:, "abs_distance_TSS"].X.ravel()
    y = vdata.obs["label"].to_numpy()
    assert roc_auc(y, dist) == pytest.approx(0.796, abs=0.002)
    table = vdata.uns["ems"]["per_chromosome"]
    assert len(table) == 22
    assert table["positives"].sum() == int(y.sum())
    assert (table["auc"] > 0.6).mean() > 0.8


# ------------------------------------------------------------------ input errors
def test_input_errors_leave_data_unchanged(small):
    v = small.copy()
    before = v.obs.copy()
    one = v.copy()
    one.obs["label"] = 0
    with pytest.raises(ValueError, match="single class"):
        sg.tl.ems_score(one, label="label")
    nan = v.copy()
    nan.obs["label"] = nan.obs["label"].astype(float)
    nan.obs.iloc[3, nan.obs.columns.get_loc("label")] = np.nan
    with pytest.raises(ValueError, match="missing values"):
        sg.tl.ems_score(nan, label="label")
    with pytest.raises(ValueError, match=r"single class|missing values"):
        sg.tl.ems_train(nan, label="label")
    dup = AnnData(X=np.vstack([v.X, v.X[:1]]), obs=pd.concat([v.obs, v.obs.iloc[:1].set_axis(["dup"])]), var=v.var)
    with pytest.raises(ValueError, match="duplicated variants"):
        sg.tl.ems_score(dup, label="label")
    nochrom = v.copy()
    del nochrom.obs["chrom"]
    with pytest.raises(ValueError, match="'chrom'"):
        sg.tl.ems_score(nochrom, label="label")
    with pytest.raises(ValueError, match="not found"):
        sg.tl.ems_score(v, label="nope")
    with pytest.raises(ValueError, match="Layer 'nope' not found"):
        sg.tl.ems_score(v, label="label", layer="nope")
    dupf = v.copy()
    dupf.var_names = [dupf.var_names[0]] * 2 + list(dupf.var_names[2:])
    with pytest.raises(ValueError, match="Duplicated feature names"):
        sg.tl.ems_score(dupf, label="label")
    # labelled variants on one chromosome only: the folds without it have nothing to train on
    one_chrom = v.copy()
    one_chrom.obs["label"] = np.where(one_chrom.obs["chrom"] == "chr1", one_chrom.obs["label"], np.nan)
    one_chrom.obs["pip"] = np.where(
        one_chrom.obs["label"] == 1, 0.5, np.where(one_chrom.obs["label"] == 0, 0.001, 0.05)
    )
    del one_chrom.obs["label"]
    with pytest.raises(ValueError, match="single class"):
        sg.tl.ems_score(one_chrom)
    pd.testing.assert_frame_equal(v.obs, before)
    assert "ems" not in v.uns


def test_scoring_features_mismatch_and_order(small):
    model = sg.tl.ems_train(small, label="label", preset="fast", rng=0)
    ref = sg.tl.ems_score(small, model=model, copy=True, n_boot=0)
    # order never matters
    perm = small[:, small.var_names[::-1]].copy()
    shuffled = sg.tl.ems_score(perm, model=model, copy=True, n_boot=0)
    np.testing.assert_array_equal(ref.obs["ems"].to_numpy(), shuffled.obs["ems"].to_numpy())
    # missing features: error naming them, data unchanged
    missing = small[:, [f for f in small.var_names if f not in ("diff_32_0", "gnomad_MAF")]].copy()
    with pytest.raises(ValueError, match=r"diff_32_0.*gnomad_MAF|gnomad_MAF.*diff_32_0"):
        sg.tl.ems_score(missing, model=model)
    assert "ems" not in missing.obs.columns
    # extra features: ignored with a warning, same scores
    extra = AnnData(
        X=np.hstack([small.X, np.ones((small.n_obs, 1), np.float32)]),
        obs=small.obs.copy(),
        var=pd.DataFrame(index=[*small.var_names, "new_annotation"]),
    )
    with pytest.warns(UserWarning, match="new_annotation"):
        sg.tl.ems_score(extra, model=model, n_boot=0)
    np.testing.assert_array_equal(extra.obs["ems"].to_numpy(), ref.obs["ems"].to_numpy())
    # metrics on labelled new variants
    assert ref.uns["ems"]["metrics"]["auc"] > 0.7


# ------------------------------------------------------------------ storage, calibration, SHAP
def test_save_load_round_trip(small, tmp_path):
    model = sg.tl.ems_train(small, label="label", preset="fast", rng=0, test=["chr4"])
    assert 0.5 < model.metrics["test"]["auc"] <= 1
    cbm, meta = model.save(tmp_path / "m")
    assert cbm.suffix == ".cbm"
    assert meta.suffix == ".json"
    assert not list(tmp_path.glob("*.pkl"))
    loaded = sg.tl.EMSModel.load(cbm)
    X = small.X
    names = list(small.var_names)
    np.testing.assert_array_equal(model.predict_margin(X, names), loaded.predict_margin(X, names))
    np.testing.assert_array_equal(
        model.calibrate(model.predict_margin(X, names)), loaded.calibrate(loaded.predict_margin(X, names))
    )
    assert loaded.weight_report == model.weight_report
    assert loaded.features == model.features
    a = sg.tl.ems_score(small, model=model, copy=True, n_boot=0)
    b = sg.tl.ems_score(small, model=str(tmp_path / "m.json"), copy=True, n_boot=0)
    np.testing.assert_array_equal(a.obs["ems"].to_numpy(), b.obs["ems"].to_numpy())
    # a dotted stem keeps its suffix: two versions side by side
    other = sg.tl.ems_train(small, label="label", preset="fast", rng=1)
    model.save(tmp_path / "gtex.v1")
    other.save(tmp_path / "gtex.v2")
    assert sorted(p.name for p in tmp_path.glob("gtex.*")) == [
        "gtex.v1.cbm",
        "gtex.v1.json",
        "gtex.v2.cbm",
        "gtex.v2.json",
    ]
    np.testing.assert_array_equal(
        sg.tl.EMSModel.load(tmp_path / "gtex.v1").predict_margin(X, names), model.predict_margin(X, names)
    )


def test_calibration_and_prior_weights(scored):
    mg = scored.obs["ems_margin"].to_numpy()
    cal = scored.obs["ems_calibrated"].to_numpy()
    # within a fold the calibrated probability is monotone in the score
    for c in ["chr1", "chr2", "chr3"]:
        m = (scored.obs["ems_fold"] == c).to_numpy()
        o = np.argsort(mg[m])
        assert (np.diff(cal[m][o]) >= -1e-12).all()
    ok = scored.obs["ems_label_used"].notna().to_numpy()
    y = scored.obs["ems_label_used"].to_numpy()[ok]
    raw = scored.obs["ems"].to_numpy()[ok]
    # raw score sits on the balanced prior: too high on average; calibrated is close to the base rate
    assert raw.mean() > 2 * y.mean()
    assert abs(cal[ok].mean() - y.mean()) < 0.04
    assert scored.uns["ems"]["metrics"]["brier"] < np.mean((raw - y) ** 2)
    # prior weights: exact logit shift from the training prior
    p = np.array([0.05, 0.3, 0.9])
    w = sg.tl.ems_prior_weights(p, train_prior=0.1, prior=0.01)
    np.testing.assert_allclose(logit(w) - logit(p), logit(np.array(0.01)) - logit(np.array(0.1)), rtol=1e-10)
    pw = scored.obs["ems_prior"].to_numpy()
    assert (pw < cal).all()
    m = (scored.obs["ems_fold"] == "chr1").to_numpy()  # one fold: one training prior
    assert (np.diff(pw[m][np.argsort(cal[m])]) >= -1e-12).all()


def test_isotonic_calibration(small):
    model = sg.tl.ems_train(small, label="label", preset="fast", calibration="isotonic", rng=0)
    mg = np.linspace(-5, 5, 50)
    c = model.calibrate(mg)
    assert (np.diff(c) >= 0).all()
    assert 0 <= c.min() <= c.max() <= 1


def test_shap_rows_sum_to_margin(scored):
    shap = scored.obsm["ems_shap"]
    assert shap.shape == (scored.n_obs, scored.n_vars)
    total = shap.sum(axis=1) + scored.obs["ems_shap_base"].to_numpy()
    np.testing.assert_allclose(total, scored.obs["ems_margin"].to_numpy(), atol=1e-4)
    np.testing.assert_allclose(expit(scored.obs["ems_margin"].to_numpy()), scored.obs["ems"].to_numpy())


def test_mudata_modality(small):
    from mudata import MuData

    mdata = MuData({"variants": small.copy()})
    sg.tl.ems_score(mdata, mod="variants", label="label", preset="fast", rng=0, n_boot=0, shap=False)
    assert "ems" in mdata.mod["variants"].obs.columns
    with pytest.raises(ValueError, match="mod="):
        sg.tl.ems_score(mdata, label="label")
    # the helpers read the modality back
    df = sg.get.ems_df(mdata, mod="variants")
    assert len(df) == small.n_obs
    assert df["label"].equals(mdata.mod["variants"].obs.loc[df.index, "label"].astype(float))
    axes = sg.pl.ems_curves(mdata, mod="variants", show=False)
    assert len(axes) == 2
    assert sg.pl.ems_importance(mdata, mod="variants", show=False) is not None


def test_scores_never_overwrite_input_labels(small):
    v = small.copy()
    del v.obs["label"]
    # PIP labels: the label used (NaN in the grey zone) goes to ems_label_used, so a second call works
    a = sg.tl.ems_score(v, preset="fast", rng=0, n_boot=0, shap=False, copy=True)
    assert "ems_label" not in a.obs.columns
    assert a.obs["ems_label_used"].isna().any()
    b = sg.tl.ems_score(a, preset="fast", rng=0, n_boot=0, shap=False, copy=True)
    np.testing.assert_array_equal(a.obs["ems"].to_numpy(), b.obs["ems"].to_numpy())
    # ems_train and ems_score pick the same default labels
    m = sg.tl.ems_train(a, preset="fast", rng=0)
    assert m.metrics["label"] == a.uns["ems"]["metrics"]["label"] == "pip (>0.1 / <0.01)"
    # labels from sg.pp.ems_labels stay as they were when another column is used
    lab = sg.pp.ems_labels(v, copy=True)
    lab.obs["flipped"] = 1 - lab.obs["ems_label"]
    before = lab.obs["ems_label"].copy()
    sg.tl.ems_score(lab, label="flipped", preset="fast", rng=0, n_boot=0, shap=False)
    pd.testing.assert_series_equal(lab.obs["ems_label"], before)
    np.testing.assert_array_equal(lab.obs["ems_label_used"].to_numpy(), lab.obs["flipped"].to_numpy(float))


def test_scoring_with_a_model_needs_no_training_labels(small):
    model = sg.tl.ems_train(small, label="label", preset="fast", rng=0)
    ref = sg.tl.ems_score(small, model=model, label="label", copy=True, n_boot=0, shap=False)
    # a single-class label column: scored all the same, without AP / AUC
    one = small.copy()
    one.obs["label"] = 0
    with pytest.warns(UserWarning, match="single class"):
        sg.tl.ems_score(one, model=model, label="label", n_boot=0, shap=False)
    np.testing.assert_array_equal(one.obs["ems"].to_numpy(), ref.obs["ems"].to_numpy())
    assert one.uns["ems"]["metrics"] == {}
    # missing labels: the labelled variants give the metrics
    part = small.copy()
    part.obs["label"] = part.obs["label"].astype(float)
    part.obs.iloc[::3, part.obs.columns.get_loc("label")] = np.nan
    sg.tl.ems_score(part, model=model, label="label", n_boot=0, shap=False)
    assert part.uns["ems"]["metrics"]["n"] == int(part.obs["label"].notna().sum())
    assert part.obs["ems_label_used"].isna().sum() == part.obs["label"].isna().sum()
    # no chrom / pos needed to score with a model; training options it cannot use are flagged
    bare = small.copy()
    del bare.obs["chrom"], bare.obs["pos"]
    with pytest.warns(UserWarning, match="no effect"):
        sg.tl.ems_score(bare, model=model, calibration=None, n_boot=0, shap=False)
    np.testing.assert_array_equal(bare.obs["ems"].to_numpy(), ref.obs["ems"].to_numpy())
    # a LOCO run stopped early leaves the other chromosomes' fold missing, not ""
    part2 = sg.tl.ems_score(small, label="label", preset="fast", rng=0, n_folds=1, n_boot=0, shap=False, copy=True)
    assert part2.obs["ems_fold"].isna().sum() == int((small.obs["chrom"] != "chr1").sum())
    assert "" not in part2.obs["ems_fold"].cat.categories


# ------------------------------------------------------------------ pp
def test_ems_labels_thresholds_and_npr():
    v = sg.datasets.simulate_variants(3000, 15, rng=3)
    pip = v.obs["pip"].to_numpy()
    lab = sg.pp.ems_labels(v, copy=True)
    assert lab.n_obs == int(((pip > 0.1) | (pip < 0.01)).sum())
    assert (lab.obs["ems_label"] == (lab.obs["pip"] > 0.1)).all()
    sub = sg.pp.ems_labels(v, npr=2, rng=0, copy=True)
    o = sub.obs.assign(t=np.where(sub.obs["ref"].str.len() == sub.obs["alt"].str.len(), "snv", "indel"))
    for _, g in o.groupby(["gene", "t"]):
        assert (g["ems_label"] == 0).sum() <= 2 * (g["ems_label"] == 1).sum()
    assert sub.obs["ems_label"].sum() == lab.obs["ems_label"].sum()
    n0 = v.n_obs
    assert sg.pp.ems_labels(v) is None
    assert v.n_obs < n0
    with pytest.raises(ValueError, match="PIP column"):
        sg.pp.ems_labels(v, pip="nope")


def test_variant_features_known_values():
    obs = pd.DataFrame(
        {
            "chrom": ["chr1", "1", "2"],
            "pos": [1000, 5000, 100],
            "gene": ["A", "B", "C"],
            "ref": ["A", "AT", "G"],
            "alt": ["C", "A", "GTT"],
        },
        index=["v1", "v2", "v3"],
    )
    tss = pd.DataFrame({"gene": ["A", "B", "C", "D"], "chr": ["1", "1", "2", "1"], "tss": [1500, 2000, 50_000, 4800]})
    out = sg.pp.variant_features(
        AnnData(obs=obs), tss=tss, gene_table=pd.DataFrame({"gene": ["A", "B"], "post_mean": [0.5, 0.25]})
    )
    f = out.to_df()
    assert f["distance_TSS"].tolist() == [-500, 3000, -49_900]
    assert f["abs_distance_TSS_log"].tolist() == pytest.approx(np.log([500, 3000, 49_900]).tolist())
    # v2: D (200 bp) is closer than B (3000 bp) -> rank 2; A at 3500 is farther
    assert f["TSS_rank"].tolist() == [1, 2, 1]
    assert f["abs_distance_nearest_TSS_log"].tolist() == pytest.approx(np.log([500, 200, 49_900]).tolist())
    assert f["TSS_density_10kb"].tolist() == [3, 3, 0]
    assert f["is_SNV"].tolist() == [1, 0, 0]
    assert f["is_deletion"].tolist() == [0, 1, 0]
    assert f["is_insertion"].tolist() == [0, 0, 1]
    assert f["length_diff"].tolist() == [0, -1, 2]
    assert f["post_mean_log2"].iloc[:2].tolist() == [-1, -2]
    assert np.isnan(f["post_mean"].iloc[2])
    with pytest.raises(ValueError, match="'tss'"):
        sg.pp.variant_features(AnnData(obs=obs), tss=tss.drop(columns="tss"))


# ------------------------------------------------------------------ plots
def test_plots_draw_what_they_should(scored):
    import matplotlib.pyplot as plt

    axes = sg.pl.ems_curves(scored, show=False)
    assert len(axes) == 2
    table = scored.uns["ems"]["per_chromosome"]
    n_both = int(((table["positives"] > 0) & (table["positives"] < table["n"])).sum())
    # per-chromosome lines + pooled + chance
    assert len(axes[0].lines) == n_both + 2
    assert len(axes[1].lines) == n_both + 2
    labels = [t.get_text() for t in axes[1].get_legend().get_texts()]
    assert labels[0] == f"pooled AUC {scored.uns['ems']['metrics']['auc']:.3f}"
    plt.close("all")
    ax = sg.pl.ems_importance(scored, n_top=8, show=False)
    assert len(ax.patches) == 8
    top = sg.get.ems_df(scored, kind="importance")["feature"].iloc[0]
    assert ax.get_yticklabels()[-1].get_text() == top
    plt.close("all")
    ax = sg.pl.ems_calibration(scored, n_bins=6, show=False)
    assert len(ax.lines) == 3
    assert len(ax.lines[0].get_xdata()) == 6
    fig = sg.pl.ems_curves(scored, kind="roc", per_chromosome=False, return_fig=True, show=False)
    assert len(fig.axes[0].lines) == 2
    plt.close("all")


# ------------------------------------------------------------------ CLI
def test_cli_round_trip(small, tmp_path):
    import yaml

    from scgenome.cli import main

    df = small.to_df()
    df.insert(0, "chrom", small.obs["chrom"].astype(str).to_numpy())
    df.insert(1, "pos", small.obs["pos"].to_numpy())
    df.insert(2, "label", small.obs["label"].to_numpy())
    data = tmp_path / "variants.tsv"
    df.to_csv(data, sep="\t", index=False)
    dcfg = tmp_path / "data.yaml"
    dcfg.write_text(
        yaml.safe_dump(
            {"data": str(data), "label": "label", "test_chromosomes": ["chr4"], "output_dir": str(tmp_path / "out")}
        )
    )
    mcfg = tmp_path / "model.yaml"
    mcfg.write_text(yaml.safe_dump({"preset": "fast", "seed": 0, "feature_weights": {"diff_*": 10}}))
    assert main(["ems", "train", "--data-config", str(dcfg), "--model-config", str(mcfg)]) == 0
    out = tmp_path / "out"
    for name in ("ems.cbm", "ems.json", "ems_summary.txt", "ems_feature_importance.csv", "ems_predictions.tsv"):
        assert (out / name).exists(), name
    summary = (out / "ems_summary.txt").read_text()
    assert "auc\t" in summary
    assert "positive" in summary
    pred = pd.read_csv(out / "ems_predictions.tsv", sep="\t", index_col=0)
    assert set(pred["chrom"].astype(str)) == {"chr4"}
    imp = pd.read_csv(out / "ems_feature_importance.csv")
    assert len(imp) == small.n_vars
    assert imp["importance"].sum() == pytest.approx(100, abs=1e-6)
    # score the same test rows with the saved model: identical to the training run's predictions
    held = df[df["chrom"] == "chr4"]
    held.to_csv(tmp_path / "new.tsv", sep="\t", index=False)
    assert (
        main(
            [
                "ems",
                "score",
                str(out / "ems.cbm"),
                str(tmp_path / "new.tsv"),
                "--out",
                str(tmp_path / "p.tsv"),
                "--label",
                "label",
            ]
        )
        == 0
    )
    p2 = pd.read_csv(tmp_path / "p.tsv", sep="\t", index_col=0)
    np.testing.assert_allclose(np.sort(p2["score"].to_numpy()), np.sort(pred["score"].to_numpy()))


def test_demo_step(tmp_path):
    from scgenome.tl._ems._demo import step

    lines = step(tmp_path, np.random.default_rng(0))
    assert (tmp_path / "ems_curves.png").stat().st_size > 1000
    pred = pd.read_csv(tmp_path / "ems_predictions.tsv", sep="\t")
    assert len(pred) == 2000
    assert any("AUC" in line for line in lines)


def test_model_scoring_options_and_old_label_column(small):
    import warnings

    model = sg.tl.ems_train(small, label="label", preset="fast", rng=0)
    from scgenome.tl._ems._model import DEFAULT_ABS_FEATURES

    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # the defaults as an array or a list: no "no effect" warning
        sg.tl.ems_score(small.copy(), model=model, abs_features=np.array(DEFAULT_ABS_FEATURES), n_boot=0, shap=False)
        sg.tl.ems_score(small.copy(), model=model, abs_features=list(DEFAULT_ABS_FEATURES), n_boot=0, shap=False)
    # without chrom, variants at the same position on different chromosomes are not duplicates
    bare = small.copy()
    bare.obs["pos"] = 100
    del bare.obs["chrom"]
    sg.tl.ems_score(bare, model=model, n_boot=0, shap=False)
    # results scored before the label used was renamed: ems_df and the plots still find the label
    old = sg.tl.ems_score(small, label="label", preset="fast", rng=0, n_boot=0, shap=False, copy=True)
    old.obs = old.obs.rename(columns={"ems_label_used": "ems_label"})
    assert sg.get.ems_df(old)["label"].notna().all()


# ------------------------------------------------------------------ bad input that got through (issue 25)
def test_too_few_positives_refused_with_the_numbers(small):
    from scgenome.tl._ems._data import check_split_positives

    v = small.copy()
    y = np.zeros(v.n_obs, dtype=int)
    y[np.flatnonzero(v.obs["chrom"].astype(str).to_numpy() == "chr3")[0]] = 1
    v.obs["label"] = y
    before = v.obs.copy()
    with pytest.raises(ValueError, match=r"hold 1 positive\(s\) and 1199 negative\(s\) .*chr3: 1.*at least 10 of each"):
        sg.tl.ems_train(v, label="label", preset="fast", rng=0)
    with pytest.raises(ValueError, match=r"at least 2 of each are needed"):
        sg.tl.ems_train(v, label="label", preset="fast", rng=0, early_stopping=False, calibration=None)
    # every LOCO fold is checked before any is trained: no degenerate (prior 0) calibration
    v.obs["label"] = y + (v.obs["chrom"].astype(str).to_numpy() == "chr1") * (np.arange(v.n_obs) % 100 == 0)
    before = v.obs.copy()
    with pytest.raises(ValueError, match=r"LOCO fold without 'chr1'.* hold 1 positive\(s\).*at least 10 of each"):
        sg.tl.ems_score(v, label="label", preset="fast", rng=0, n_boot=0, shap=False)
    pd.testing.assert_frame_equal(v.obs, before)
    assert "ems" not in v.uns
    # the split check itself
    chrom = np.array(["1"] * 6 + ["2"] * 6)
    yy = np.array([1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0])
    with pytest.raises(ValueError, match=r"inner validation part .*\['2'\]\) holds 1 positive"):
        check_split_positives(yy, chrom == "2", chrom)
    check_split_positives(np.array([1, 1, 0, 0, 1, 1, 0, 0]), np.arange(8) >= 4, np.array(["1"] * 4 + ["2"] * 4))


def test_unmatched_weight_patterns_warn_once(small, caplog, monkeypatch):
    import logging

    from scgenome.tl._ems import _model

    monkeypatch.setattr(_model, "_WARNED_PATTERNS", set())
    v = small[:, [f for f in small.var_names if not f.startswith(("diff_", "tf_", "chrombpnet_"))]].copy()
    with caplog.at_level(logging.WARNING, logger="scgenome"):
        sg.tl.ems_score(v, label="label", preset="fast", params={"iterations": 20}, rng=0, n_boot=0, shap=False)
        sg.tl.ems_train(v, label="label", preset="fast", params={"iterations": 20}, rng=0)
    hits = [r.getMessage() for r in caplog.records if "matched none" in r.getMessage()]
    assert len(hits) == 1, hits
    for pattern in ("chrombpnet_positive", "tf_positive", "diff_*"):
        assert repr(pattern) in hits[0]


def test_model_files_damaged_or_unwritable(small, tmp_path):
    import json

    from scgenome.tl._ems._model import EMSModel

    model = sg.tl.ems_train(small, label="label", preset="fast", params={"iterations": 20}, rng=0)
    cbm, meta = model.save(tmp_path / "m")
    good_cbm, good_meta = cbm.read_bytes(), meta.read_text()
    cases = [
        (cbm, good_cbm[: len(good_cbm) // 2], r"CatBoost model file \(\.cbm\) .*m\.cbm could not be read"),
        (cbm, b"not a model" * 20, r"m\.cbm could not be read: CatBoostError"),
        (meta, good_meta[:80].encode(), r"m\.json could not be read: invalid JSON at line"),
        (meta, b"\xff\xfe garbage", r"m\.json could not be read: binary content"),
        (meta, json.dumps({k: v for k, v in json.loads(good_meta).items() if k != "features"}).encode(), "lacks"),
        (meta, json.dumps(json.loads(good_meta) | {"format_version": 99}).encode(), "format_version 99"),
    ]
    for path, content, match in cases:
        path.write_bytes(content)
        with pytest.raises(ValueError, match=match) as err:
            EMSModel.load(tmp_path / "m")
        assert str(path) in str(err.value)
        cbm.write_bytes(good_cbm)
        meta.write_text(good_meta)
    # a .cbm of another model with other features: the pair does not belong together
    other = sg.tl.ems_train(
        small[:, small.var_names[:5]].copy(), label="label", preset="fast", params={"iterations": 5}, rng=0
    )
    other.booster.save_model(str(cbm), format="cbm")
    with pytest.raises(ValueError, match=r"not from the same EMSModel\.save"):
        EMSModel.load(tmp_path / "m")
    cbm.write_bytes(good_cbm)
    assert EMSModel.load(cbm).features == model.features
    # unwritable targets: refused before either file is written
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ValueError, match=r"afile is a file, not a folder"):
        model.save(tmp_path / "afile" / "sub" / "m")
    (tmp_path / "busy.json").mkdir()
    with pytest.raises(ValueError, match=r"busy\.json is a folder"):
        model.save(tmp_path / "busy")
    assert not (tmp_path / "busy.cbm").exists()


@pytest.mark.parametrize(
    ("pos", "match"),
    [
        ([1000, np.nan, 3000], r"Column 'pos' of \.obs has missing values \(NaN\) in 1 row\(s\), e\.g\. 'v2'"),
        (["1000", "2000", "chr1:5"], r"Column 'pos' of \.obs holds non-numeric values .*'v3'; first 'chr1:5'"),
        ([1000, -9, 3000], r"Column 'pos' .*non-negative whole .* 'v2' do not \(first -9\)"),
        ([1000.5, 2000, 3000], r"Column 'pos' .*'v1' do not \(first 1000\.5\)"),
    ],
)
def test_variant_features_bad_positions(pos, match):
    obs = pd.DataFrame({"chrom": ["1"] * 3, "pos": pos, "gene": ["A", "B", "A"]}, index=["v1", "v2", "v3"])
    tss = pd.DataFrame({"gene": ["A", "B"], "chr": ["1", "1"], "tss": [1500, 2000]})
    vdata = AnnData(obs=obs)
    before = vdata.obs.copy()
    with pytest.raises(ValueError, match=match):
        sg.pp.variant_features(vdata, tss=tss)
    pd.testing.assert_frame_equal(vdata.obs, before)


def test_variant_features_bad_tss_table(tmp_path):
    import gzip

    obs = pd.DataFrame({"chrom": ["1", "1"], "pos": [1000, 5000], "gene": ["A", "B"]}, index=["v1", "v2"])
    tss = pd.DataFrame({"gene": ["A", "B"], "chr": ["1", "1"], "tss": ["1500", "n/a"]})
    with pytest.raises(ValueError, match=r"Column 'tss' of the TSS table holds non-numeric values .*'B'"):
        sg.pp.variant_features(AnnData(obs=obs), tss=tss)
    text = "gene\tchr\ttss\n" + "".join(f"G{i}\t1\t{1000 * i}\n" for i in range(2000))
    (tmp_path / "tss.txt.gz").write_bytes(gzip.compress(text.encode())[:-40])
    with pytest.raises(ValueError, match=r"TSS file .*tss\.txt\.gz could not be read: the gzip stream ends early"):
        sg.pp.variant_features(AnnData(obs=obs), tss=tmp_path / "tss.txt.gz")


def test_loco_refuses_a_fold_with_too_few_positives_before_training(small):
    v = small.copy()
    # one positive left on a single chromosome: the folds trained without it would hold a single class, and the
    # fold trained with it would hold one positive, too few for early stopping and calibration
    lab = v.obs["label"].to_numpy(dtype=float).copy()
    pos = np.flatnonzero(lab == 1)
    lab[pos[1:]] = 0
    v.obs["label"] = lab
    with pytest.raises(ValueError, match=r"single class|positive\(s\)"):
        sg.tl.ems_score(v, label="label", preset="fast")
    assert "ems" not in v.uns


def test_ems_score_reports_progress_over_boosting_rounds(small, monkeypatch):
    from scgenome.tl._ems import _score

    bars = []

    class Bar:
        def __init__(self, total=None, **kwargs):
            self.total, self.n, self.closed = total, 0, False
            bars.append(self)

        def update(self, n=1):
            self.n += n

        def close(self):
            self.closed = True

    monkeypatch.setattr(_score, "progress", Bar)
    sg.tl.ems_score(small, label="label", preset="fast", params={"iterations": 30}, shap=False, n_boot=0, rng=0)
    (bar,) = bars
    n_folds = small.obs["chrom"].nunique()
    assert bar.total == 30 * n_folds  # fast: early stopping without refit, one fit of at most 30 rounds per fold
    assert bar.n == bar.total  # folds that stopped early filled their share
    assert bar.closed
