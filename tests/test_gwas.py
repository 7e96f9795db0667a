"""QC, kinship and GWAS (GEMMA -gk 1 / -lmm 4 / -lm 4) against GEMMA's outputs, simulations and direct formulas."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats
from threadpoolctl import threadpool_limits

import scgenome as sg
from scgenome.tl._gwas import _model


@pytest.fixture(scope="module", autouse=True)
def _one_blas_thread():
    """The test machine is shared: one BLAS thread avoids oversubscription (restored afterwards)."""
    with threadpool_limits(1):
        yield


HITS = (1e-5, 0.05 / 10768, 1e-8)


def _mlog10(p):
    return -np.log10(np.asarray(p, dtype=float))


# ------------------------------------------------------------------------------------------------------------------
# HS1940 fixtures (read once per module)
# ------------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hs_dir():
    from conftest import _require

    return _require("mouse-hs1940")


@pytest.fixture(scope="module")
def hs(hs_dir):
    d = hs_dir
    return sg.io.read_bimbam(
        d / "mouse_hs1940.geno.txt.gz", d / "mouse_hs1940.pheno.txt.gz", d / "mouse_hs1940.anno.txt.gz"
    )


@pytest.fixture(scope="module")
def hs_lmm(hs):
    """The default call, as GEMMA's default two-step run (-gk 1 then -lmm 4) on phenotype 1 (CD8)."""
    g = hs.copy()
    sg.tl.gwas(g, "pheno1")
    return g


@pytest.fixture(scope="module")
def ref_lmm(hs_dir):
    return pd.read_csv(hs_dir / "ref_gemma-0.98.5_CD8_pheno1_lmm4.assoc.txt.gz", sep="\t")


# ------------------------------------------------------------------------------------------------------------------
# QC and kinship
# ------------------------------------------------------------------------------------------------------------------


@pytest.mark.realdata
def test_snp_qc_matches_gemma(hs, ref_lmm):
    g = hs.copy()
    sg.pp.snp_qc(g, samples="pheno1")
    assert g.uns["snp_qc"]["n_pass"] == 10768
    assert g.uns["snp_qc"]["params"]["n_samples"] == 1410
    assert list(g.var_names[g.var["snp_qc_pass"]]) == list(ref_lmm["rs"])
    assert g.uns["snp_qc"]["n_removed"]["monomorphic"] == 1233  # the NA rows of the plink2 reference
    assert sum(g.uns["snp_qc"]["n_removed"].values()) == 12226 - 10768
    assert (g.var.loc[~g.var["snp_qc_pass"], "snp_qc_fail"] != "").all()
    # allele-1 frequencies over the analysed mice, as GEMMA prints them
    np.testing.assert_allclose(g.var.loc[g.var["snp_qc_pass"], "snp_qc_af"], ref_lmm["af"], atol=5e-4)
    # subset drops the failing SNPs; inplace=False returns the table and leaves the data alone
    h = hs.copy()
    table = sg.pp.snp_qc(h, samples="pheno1", inplace=False)
    assert int(table["pass"].sum()) == 10768
    assert "snp_qc_pass" not in h.var.columns
    sg.pp.snp_qc(h, samples="pheno1", subset=True)
    assert h.n_vars == 10768


def test_snp_qc_semantics():
    X = np.array(
        [
            [0, 1, 1, 1, 0, 0],
            [0, 1, np.nan, 1, 0, 0],
            [0, 1, 1, 2, 0, 0],
            [1, 1, 1, 1, 1, 1],  # not analysed (missing phenotype)
            [0, 1, 2, 1, 0, 1],
        ],
        dtype=np.float32,
    )
    g = ad.AnnData(X)
    g.obs["y"] = [1.0, 2.0, 3.0, np.nan, 4.0]
    sg.pp.snp_qc(g, maf=0.3, max_missing=0.1, samples="y")
    # SNPs 0, 1, 4 are monomorphic among the analysed rows (4 is not overall); SNP 2 has 25% missing;
    # SNP 5 has allele-1 frequency 1/8 < maf
    assert g.var["snp_qc_fail"].tolist() == ["monomorphic", "monomorphic", "missing", "", "monomorphic", "maf"]
    assert g.uns["snp_qc"]["n_removed"] == {"monomorphic": 3, "maf": 1, "missing": 1}
    with pytest.raises(ValueError, match="maf must be"):
        sg.pp.snp_qc(g, maf=0.7)
    with pytest.raises(ValueError, match="not a column"):
        sg.pp.snp_qc(g, samples="nope")


@pytest.mark.realdata
def test_kinship_matches_gemma(hs):
    g = hs.copy()
    sg.pp.kinship(g, samples="pheno1")
    K = g.obsp["kinship"]
    assert K.shape == (1940, 1940)
    np.testing.assert_allclose(K[0, :3], [0.3350589588, -0.02272259412, 0.0103535287], atol=1e-9)
    assert abs(np.diag(K).mean() - 0.3595664) < 1e-7
    np.testing.assert_array_equal(K, K.T)
    assert g.uns["kinship"]["params"]["n_snps"] == 10768


def test_kinship_standardized_and_loco(rng):
    X = rng.binomial(2, rng.uniform(0.1, 0.9, 60), size=(30, 60)).astype(np.float32)
    X[3, 5] = np.nan
    g = ad.AnnData(X)
    g.var["chrom"] = np.repeat(["1", "2", "3"], 20)
    sg.pp.kinship(g, method="standardized", maf=0.0, max_missing=1.0, loco=True)
    # direct formula: mean-impute, centre, scale by the population SD
    X64 = X.astype(float)
    Z = np.where(np.isnan(X64), np.nanmean(X64, 0), X64)
    Z -= Z.mean(0)
    Z /= np.sqrt((Z * Z).mean(0))
    np.testing.assert_allclose(g.obsp["kinship"], Z @ Z.T / 60, atol=1e-12)
    loco = g.uns["kinship_loco"]
    assert list(loco["chroms"]) == ["1", "2", "3"]
    assert loco["n_snps"].tolist() == [20, 20, 20]
    for c, part in enumerate(loco["partial"]):
        keep = g.var["chrom"].to_numpy() != str(c + 1)
        k_loco = (g.obsp["kinship"] * 60 - part) / 40
        np.testing.assert_allclose(k_loco, Z[:, keep] @ Z[:, keep].T / 40, atol=1e-5)
    with pytest.raises(ValueError, match="method must be"):
        sg.pp.kinship(g, method="ibs")


# ------------------------------------------------------------------------------------------------------------------
# LMM against GEMMA -lmm 4 (phenotype 1 = CD8)
# ------------------------------------------------------------------------------------------------------------------


@pytest.mark.realdata
def test_lmm_matches_gemma(hs_lmm, ref_lmm):
    g, ref = hs_lmm, ref_lmm
    res = sg.get.gwas_df(g)
    assert list(res["rs"]) == list(ref["rs"])  # the same 10,768 SNPs after QC
    assert g.uns["gwas"]["n_snps_tested"] == 10768
    assert g.uns["gwas"]["n_analysed"] == 1410
    assert list(res.columns) == list(ref.columns)
    for col in ("p_wald", "p_lrt", "p_score"):
        assert np.abs(_mlog10(res[col]) - _mlog10(ref[col])).max() < 1e-3, col
    for col in ("beta", "se"):
        np.testing.assert_allclose(res[col], ref[col], rtol=1e-4)
    np.testing.assert_allclose(res["l_remle"], ref["l_remle"], rtol=1e-4)
    np.testing.assert_allclose(res["l_mle"], ref["l_mle"], rtol=1e-4)
    np.testing.assert_allclose(res["logl_H1"], ref["logl_H1"], rtol=1e-6)
    np.testing.assert_allclose(res["af"], ref["af"], atol=5e-4)
    assert (res["n_miss"] == ref["n_miss"]).all()
    assert (res["allele1"] == ref["allele1"]).all()
    assert res["ps"].isna().sum() == (ref["ps"] == -9).sum() == 1668
    # identical hit sets
    for thr in HITS:
        assert set(res.loc[res["p_wald"] < thr, "rs"]) == set(ref.loc[ref["p_wald"] < thr, "rs"]), thr
    assert [(res["p_wald"] < t).sum() for t in HITS] == [31, 27, 24]
    assert abs(res["p_wald"].min() / 2.305165e-17 - 1) < 1e-3
    # the null model (GEMMA log)
    null = g.uns["gwas"]["null_model"]
    assert abs(null["pve"] - 0.608801) < 1e-4
    assert abs(null["pve_se"] - 0.032774) < 1e-5
    assert abs(null["vg"] - 1.47657) < 1e-4
    assert abs(null["ve"] - 0.341097) < 1e-5
    assert abs(null["logl_reml"] - -1584.34) < 5e-3
    assert abs(null["logl_ml"] - -1584.72) < 5e-3
    assert abs(null["beta_se"][0] - 0.0155535) < 1e-6
    assert abs(g.uns["gwas"]["lambda_gc"] - 0.79) < 0.01
    # the kinship was computed GEMMA-style and stored
    np.testing.assert_allclose(g.obsp["kinship"][0, :3], [0.3350589588, -0.02272259412, 0.0103535287], atol=1e-9)


@pytest.mark.realdata
def test_linear_matches_gemma_and_plink2(hs, hs_dir):
    g = hs.copy()
    sg.tl.gwas(g, "pheno1", method="linear", key_added="lm")
    res = sg.get.gwas_df(g, key="lm")
    assert "l_remle" not in res.columns
    ref = pd.read_csv(hs_dir / "ref_gemma-0.98.5_CD8_pheno1_lm4.assoc.txt.gz", sep="\t")
    assert list(res["rs"]) == list(ref["rs"])
    for col in ("p_wald", "p_lrt", "p_score"):
        assert np.abs(_mlog10(res[col]) - _mlog10(ref[col])).max() < 1e-6, col
    np.testing.assert_allclose(res["beta"], ref["beta"], rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(res["se"], ref["se"], rtol=1e-5)
    np.testing.assert_array_equal(g.var.loc[list(ref["rs"]), "lm_n_obs"], ref["n_obs"])  # GEMMA -lm's n_obs
    np.testing.assert_array_equal(res.set_index("rs").loc[list(ref["rs"]), "n_obs"], ref["n_obs"])  # in the table too
    assert (res["p_wald"] < 1e-5).sum() == 3399
    assert abs(g.uns["lm"]["lambda_gc"] - 21.4) < 0.1
    # plink2 --glm on the dosages (stored in steps of 1/16384), aligned on A1 = allele1
    p2 = pd.read_csv(hs_dir / "ref_plink2-2.00a3.5_CD8_pheno1_glm_dosage.linear.gz", sep="\t").dropna(subset=["P"])
    m = res.merge(p2, left_on="rs", right_on="ID")
    assert len(m) == 10768
    assert (m["A1"] == m["allele1"]).all()
    assert np.abs(m["BETA"] - m["beta"]).max() < 2e-5
    assert np.abs(_mlog10(m["P"]) - _mlog10(m["p_wald"])).max() < 2e-4


@pytest.mark.realdata
def test_second_phenotype_mch(hs):
    """Phenotype 6 (MCH): no tuning to CD8; sanity of the results and internal consistency of the LMM."""
    g = hs.copy()
    sg.tl.gwas(g, "pheno6")
    info = g.uns["gwas"]
    assert info["n_analysed"] == 1580
    assert 0.75 < info["lambda_gc"] < 1.1
    assert 0.2 < info["null_model"]["pve"] < 0.95
    p = g.var["gwas_pval"]
    # the PC-adjusted sanity scan (README) finds genome-wide MCH signals (p < 1e-8) on chromosomes
    # 1, 5, 7, 8, 9, 11, 17 only; the LMM's strongest signals are among them, and weaker than that scan's
    hits = g.var.loc[p < 1e-8, "chrom"].astype(str)
    assert len(hits) >= 1
    assert set(hits) <= {"1", "5", "7", "8", "9", "11", "17"}
    assert 9e-13 < p.min() < 1e-8
    # the SNP-wise REML lambda is a true optimum: derivative zero and likelihood lower on both sides
    rows = g.obs["pheno6"].notna().to_numpy()
    evals, U = _model.eigen_kinship(g.obsp["kinship"][np.ix_(rows, rows)])
    y = g.obs["pheno6"].to_numpy()[rows]
    W = np.ones((rows.sum(), 1))
    tested = np.flatnonzero(p.notna().to_numpy())
    pick = np.concatenate([tested[:: len(tested) // 40], [int(np.nanargmin(p.to_numpy()))]])
    Xs = g.X[np.ix_(rows, pick)].astype(float)
    rot = _model.Rotated(U.T @ W, U.T @ y, U.T @ Xs)
    ev = _model._Evaluator(rot, evals, with_x=True)
    lam = g.var["gwas_l_remle"].to_numpy()[pick]
    at = ev.at(lam, logl=True)
    assert np.abs(at["g_reml"]).max() < 1e-6
    for f in (0.99, 1.01):
        assert (ev.at(lam * f, logl=True)["logl_reml"] < at["logl_reml"]).all()
    # the null model's REML optimum too
    null = info["null_model"]
    rot0 = _model.Rotated(U.T @ W, U.T @ y, np.zeros((rows.sum(), 1)))
    ev0 = _model._Evaluator(rot0, evals, with_x=False)
    assert abs(ev0.at_shared(null["lambda_reml"])["g_reml"][0]) < 1e-6


# ------------------------------------------------------------------------------------------------------------------
# direct formulas, covariates, simulation
# ------------------------------------------------------------------------------------------------------------------


def _direct_lmm(K, W, y, x):
    """REML/ML by dense linear algebra (no eigen trick, no GEMMA recursions), optimised with scipy."""
    n = len(y)
    Z = np.column_stack([W, x])

    def parts(lam, Zm):
        V = lam * K + np.eye(n)
        Vi = np.linalg.inv(V)
        A = Zm.T @ Vi @ Zm
        P = Vi - Vi @ Zm @ np.linalg.solve(A, Zm.T @ Vi)
        return V, A, P

    def reml(t, Zm):
        lam = np.exp(t)
        V, A, P = parts(lam, Zm)
        df = n - Zm.shape[1]
        return -(
            0.5 * df * (np.log(df) - np.log(2 * np.pi) - 1)
            - 0.5 * np.linalg.slogdet(V)[1]
            - 0.5 * (np.linalg.slogdet(A)[1] - np.linalg.slogdet(Zm.T @ Zm)[1])
            - 0.5 * df * np.log(y @ P @ y)
        )

    def ml(t, Zm):
        lam = np.exp(t)
        V, _, P = parts(lam, Zm)
        return -(
            0.5 * n * (np.log(n) - np.log(2 * np.pi) - 1) - 0.5 * np.linalg.slogdet(V)[1] - 0.5 * n * np.log(y @ P @ y)
        )

    opt = {"bounds": (np.log(1e-5), np.log(1e5)), "method": "bounded", "options": {"xatol": 1e-10}}
    t_reml = optimize.minimize_scalar(reml, args=(Z,), **opt).x
    t_ml = optimize.minimize_scalar(ml, args=(Z,), **opt).x
    t0_ml = optimize.minimize_scalar(ml, args=(W,), **opt).x
    lam = np.exp(t_reml)
    V = lam * K + np.eye(n)
    Vi = np.linalg.inv(V)
    A = Z.T @ Vi @ Z
    beta = np.linalg.solve(A, Z.T @ Vi @ y)
    _, _, P = parts(lam, Z)
    df = n - Z.shape[1]
    sigma2 = y @ P @ y / df
    se = np.sqrt(np.linalg.inv(A)[-1, -1] * sigma2)
    p_wald = stats.f.sf((beta[-1] / se) ** 2, 1, df)
    p_lrt = stats.chi2.sf(2 * (-ml(t_ml, Z) + ml(t0_ml, W)), 1)
    return {"l_remle": lam, "l_mle": np.exp(t_ml), "beta": beta[-1], "se": se, "p_wald": p_wald, "p_lrt": p_lrt}


def test_lmm_with_covariates_equals_direct_formulas(rng):
    n, p = 120, 6
    G = rng.binomial(2, 0.3, size=(n, 200)).astype(float)
    Gc = G - G.mean(0)
    K = Gc @ Gc.T / 200
    X = rng.binomial(2, 0.4, size=(n, p)).astype(np.float32)
    age = rng.normal(size=n)
    u = rng.multivariate_normal(np.zeros(n), K)
    y = 0.5 * age + u + rng.normal(size=n) + 0.4 * X[:, 0]
    g = ad.AnnData(X, obs=pd.DataFrame({"y": y, "age": age}, index=[f"i{i}" for i in range(n)]))
    g.obsp["K"] = K
    sg.tl.gwas(g, "y", covariates=["age"], kinship="K")
    W = np.column_stack([np.ones(n), age])
    # GEMMA double-centres the kinship before use: do the same for the direct computation
    C = np.eye(n) - 1.0 / n
    Kc = C @ K @ C
    for j in range(p):
        d = _direct_lmm(Kc, W, y, X[:, j].astype(float))
        for key, col in (("beta", "beta"), ("se", "se"), ("l_remle", "l_remle"), ("l_mle", "l_mle")):
            assert abs(g.var[f"gwas_{col}"].iloc[j] / d[key] - 1) < 1e-5, (j, key)
        for key, col in (("p_wald", "pval"), ("p_lrt", "p_lrt")):
            assert abs(_mlog10(g.var[f"gwas_{col}"].iloc[j]) - _mlog10(d[key])) < 1e-5, (j, key)
    # linear model = OLS t-test
    sg.tl.gwas(g, "y", covariates=["age"], method="linear", key_added="lm")
    for j in range(p):
        Z = np.column_stack([W, X[:, j]])
        b, res, *_ = np.linalg.lstsq(Z, y, rcond=None)
        s2 = res[0] / (n - 3)
        se = np.sqrt(np.linalg.inv(Z.T @ Z)[-1, -1] * s2)
        assert abs(g.var["lm_beta"].iloc[j] - b[-1]) < 1e-10
        assert abs(g.var["lm_pval"].iloc[j] / (2 * stats.t.sf(abs(b[-1] / se), n - 3)) - 1) < 1e-8


def test_linear_sums_paths_agree_with_direct_sums(rng, monkeypatch):
    """The compiled pass (F/C order, all rows or a subset) and the numpy pass give the per-SNP sums directly."""
    from scgenome.tl._gwas import _api

    n, p = 90, 40
    X = rng.binomial(2, 0.3, size=(n, p)).astype(np.float32)
    X[rng.random((n, p)) < 0.03] = np.nan  # scattered missing genotypes
    X[:, 3] = 1.0  # monomorphic
    X[:, 4] = np.nan
    X[::2, 5] = np.nan
    X[1::2, 5] = 2.0  # monomorphic among the observed
    X[1:, 6] = 0.0  # differs only in the first genotype
    X[:, 7] = np.where(np.arange(n) % 5 == 0, np.nan, 0.5)  # constant non-integer dosage with missing values
    X[:, 8] = rng.binomial(2, 0.5, size=n)  # no missing genotype
    Vt = np.vstack([np.ones(n), rng.normal(size=n), rng.normal(size=n)])
    rows = np.sort(rng.choice(n, 70, replace=False))

    def direct(Xs, V):
        miss = np.isnan(Xs)
        G = np.where(miss, 0.0, Xs.astype(np.float64))
        lo = np.where(miss, np.inf, Xs).min(0)
        hi = np.where(miss, -np.inf, Xs).max(0)
        return miss.sum(0), ~(hi > lo), V @ G, V @ miss, (G * G).sum(0)

    empty = np.zeros(0, dtype=np.int64)
    for Xo in (np.asfortranarray(X), np.ascontiguousarray(X)):
        for idx in (empty, rows):
            ref = direct(X if len(idx) == 0 else X[idx], Vt if len(idx) == 0 else Vt[:, idx])
            got = _model.linear_sums(Xo, idx, 2, 37, np.ascontiguousarray(Vt if len(idx) == 0 else Vt[:, idx]))
            for r, gv in zip(ref, got, strict=True):
                np.testing.assert_allclose(gv, r[..., 2:37], rtol=1e-12, atol=1e-12)
    for r, gv in zip(direct(X, Vt), _api._linear_sums(X, Vt), strict=True):
        np.testing.assert_allclose(gv, r, rtol=1e-12, atol=1e-12)
    assert list(np.flatnonzero(direct(X, Vt)[1])) == [3, 4, 5, 7]

    # tl.gwas: the compiled pass (forced by a zero size threshold; C, F, float64) gives the numpy pass's results
    y = rng.normal(size=n) + 0.5 * np.nan_to_num(X[:, 0])
    y[rng.random(n) < 0.1] = np.nan  # analysed rows: a subset
    y[0] = 1.0  # keeps SNP 6 polymorphic
    obs = pd.DataFrame({"y": y, "age": rng.normal(size=n)}, index=[f"i{i}" for i in range(n)])
    g = ad.AnnData(X, obs=obs)
    sg.tl.gwas(g, "y", covariates=["age"], method="linear", maf=0.0, max_missing=0.2)
    ref = g.var.copy()
    monkeypatch.setattr(_api, "_JIT_MIN", 0)
    for Xo in (np.asfortranarray(X), np.ascontiguousarray(X), X.astype(np.float64)):
        g2 = ad.AnnData(Xo, obs=obs)
        sg.tl.gwas(g2, "y", covariates=["age"], method="linear", maf=0.0, max_missing=0.2)
        pd.testing.assert_frame_equal(g2.var, ref, rtol=1e-10)
    assert list(np.flatnonzero(ref["gwas_pval"].isna())) == [3, 4, 5, 7]  # monomorphic


def test_loco_calibration_on_noise_and_polygenic_phenotypes():
    # pure noise (no genetic variance; a population mean shift still confounds): LOCO stays calibrated
    # (measured 1.08 and 1.13 at n=800, 3,000 SNPs; the standard LMM 0.98-1.05, slightly deflated because
    # every tested SNP is also in its kinship: proximal contamination, Yang et al. 2014)
    for seed in range(2):
        g = sg.datasets.simulate_cohort(600, 3000, n_causal=0, causal_fraction=0.0, heritability=0.0, rng=seed)
        sg.tl.gwas(g, "pheno", loco=True)
        assert 0.9 <= g.uns["gwas"]["lambda_gc"] <= 1.2
    # polygenic background: SNPs of the tested chromosome carry true signal that its LOCO kinship no
    # longer absorbs, so LOCO is inflated against the standard LMM (1.4-1.8 measured): expected, not a bug
    g = sg.datasets.simulate_cohort(600, 3000, n_causal=0, causal_fraction=0.0, heritability=0.5, rng=0)
    sg.tl.gwas(g, "pheno")
    sg.tl.gwas(g, "pheno", loco=True, key_added="loco")
    assert g.uns["loco"]["lambda_gc"] > g.uns["gwas"]["lambda_gc"] + 0.2


def test_null_calibration_and_truth_recovery():
    # null: polygenic background + population structure + covariates, no large-effect SNP
    lgc_lmm, lgc_lm = [], []
    for seed in range(2):
        g = sg.datasets.simulate_cohort(600, 3000, n_causal=0, causal_fraction=0.0, heritability=0.5, rng=seed)
        sg.tl.gwas(g, "pheno", covariates=["age", "sex"])
        sg.tl.gwas(g, "pheno", covariates=["age", "sex"], method="linear", key_added="lm")
        lgc_lmm.append(g.uns["gwas"]["lambda_gc"])
        lgc_lm.append(g.uns["lm"]["lambda_gc"])
        assert 0.9 <= g.uns["gwas"]["lambda_gc"] <= 1.1
        assert (g.var["gwas_pval"] < 0.05 / g.n_vars).sum() <= 1
        assert abs(g.uns["gwas"]["null_model"]["pve"] - 0.5) < 0.2
    assert min(lgc_lm) > max(lgc_lmm)  # the plain regression is inflated by structure
    # truth: causal SNPs are found; other hits are in LD with them (within 10 SNPs on the same chromosome)
    g = sg.datasets.simulate_cohort(800, 4000, n_causal=5, causal_fraction=0.5, heritability=0.6, rng=5)
    sg.tl.gwas(g, "pheno", covariates=["age", "sex"])
    causal = list(g.uns["simulation"]["causal_snps"])
    p = g.var["gwas_pval"]
    assert (p[causal] < 0.05 / g.n_vars).sum() >= 4
    pos = {s: i for i, s in enumerate(g.var_names)}
    chrom = g.var["chrom"].astype(str)
    for s in g.var_names[(p < 0.05 / g.n_vars).to_numpy()]:
        assert any(abs(pos[s] - pos[c]) <= 10 and chrom[s] == chrom[c] for c in causal), s
    # estimated effects of the causal SNPs agree with the truth
    eff = np.asarray(g.uns["simulation"]["causal_effects"])
    est = g.var.loc[causal, "gwas_beta"].to_numpy()
    assert np.corrcoef(eff, est)[0, 1] > 0.9
    # the binary phenotype is accepted (analysed as 0/1, as GEMMA does)
    sg.tl.gwas(g, "pheno_binary", key_added="bin")
    assert np.nanmin(g.var["bin_pval"]) < 1e-4


def test_loco_dask_copy_and_errors(rng):
    import dask.array as da

    g = sg.datasets.simulate_cohort(300, 800, n_causal=3, heritability=0.6, missing_rate=0.01, rng=1)
    sg.pp.kinship(g, loco=True)
    # LOCO from the stored partial sums equals LOCO computed from the genotypes
    a = sg.tl.gwas(g, "pheno", loco=True, copy=True)
    b = g.copy()
    del b.uns["kinship_loco"]
    sg.tl.gwas(b, "pheno", loco=True)
    np.testing.assert_allclose(a.var["gwas_pval"], b.var["gwas_pval"], rtol=1e-4)
    assert set(a.uns["gwas"]["null_model"]) == set(g.var["chrom"].astype(str))
    # chromosome 1 under LOCO = an ordinary run with the kinship of the other chromosomes' QC'd SNPs
    on1 = (g.var["chrom"].astype(str) == "1").to_numpy()
    k = sg.pp.kinship(g, snps=g.uns["kinship"]["snps"] & ~on1, copy=True).obsp["kinship"]
    c = sg.tl.gwas(g, "pheno", kinship=k, copy=True)
    np.testing.assert_allclose(c.var["gwas_pval"][on1], a.var["gwas_pval"][on1], rtol=1e-6)
    assert not np.allclose(c.var["gwas_pval"][~on1], a.var["gwas_pval"][~on1], rtol=1e-3)
    # copy=True leaves the input alone and returns the result
    assert "gwas_pval" not in g.var.columns
    assert a is not None
    assert sg.tl.gwas(g, "pheno") is None
    assert "gwas_pval" in g.var.columns
    # a dask-backed X gives the same results, chunk by chunk
    d = g.copy()
    d.X = da.from_array(np.asarray(g.X), chunks=(300, 100))
    sg.tl.gwas(d, "pheno", chunk_size=170)
    np.testing.assert_allclose(d.var["gwas_pval"], g.var["gwas_pval"], rtol=1e-8)
    # errors leave the input unchanged
    before_var, before_uns = g.var.copy(), set(g.uns)
    g.obs["label"] = "a"
    bad = [
        ({"phenotype": "nope"}, "not found"),
        ({"phenotype": "pheno", "covariates": ["label"]}, "must be numeric"),
        ({"phenotype": "pheno", "method": "glm"}, "method must be"),
        ({"phenotype": "pheno", "covariates": ["pheno"]}, "also listed"),
        ({"phenotype": "pheno", "kinship": np.eye(3)}, "n_obs x n_obs"),
        ({"phenotype": "pheno", "maf": 0.7}, "maf must be"),
    ]
    for kwargs, match in bad:
        with pytest.raises(ValueError, match=match):
            sg.tl.gwas(g, **kwargs, key_added="bad")
    pd.testing.assert_frame_equal(g.var, before_var)
    assert set(g.uns) == before_uns
    nochrom = g[:, :50].copy()
    del nochrom.var["chrom"]
    with pytest.raises(ValueError, match="chrom"):
        sg.tl.gwas(nochrom, "pheno", loco=True)
    mono = ad.AnnData(
        np.ones((20, 3), dtype=np.float32), obs=pd.DataFrame({"y": np.arange(20.0)}, index=[str(i) for i in range(20)])
    )
    with pytest.raises(ValueError, match="No SNP passes"):
        sg.tl.gwas(mono, "y", method="linear")
    with pytest.raises(ValueError, match="No GWAS results"):
        sg.get.gwas_df(g, key="bad")


# ------------------------------------------------------------------------------------------------------------------
# MuData, layers, re-runs and argument checks
# ------------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small():
    """A small simulated cohort (150 individuals x 400 SNPs on 3 chromosomes), with its kinship stored."""
    g = sg.datasets.simulate_cohort(150, 400, n_chromosomes=3, n_causal=2, heritability=0.6, missing_rate=0.01, rng=0)
    sg.pp.kinship(g)
    return g


def _pair(g, order=None):
    """The cohort as a MuData: genotypes in ``geno``, phenotype and covariates in ``pheno`` (rows in ``order``)."""
    mudata = pytest.importorskip("mudata")
    cols = ["pheno", "age", "sex"]
    pheno = ad.AnnData(g.obs[cols].to_numpy(dtype=np.float64), obs=pd.DataFrame(index=g.obs_names))
    pheno.var_names = cols
    if order is not None:
        pheno = pheno[order].copy()
    geno = ad.AnnData(g.X.copy(), obs=pd.DataFrame(index=g.obs_names), var=g.var.copy())
    geno.obsp["kinship"] = g.obsp["kinship"]
    return mudata.MuData({"geno": geno, "pheno": pheno})


@pytest.mark.filterwarnings("ignore:From 0.4 .update:FutureWarning")
def test_gwas_mudata_matches_anndata_by_individual_id(small, rng):
    g = small.copy()
    sg.tl.gwas(g, "pheno", covariates=["age", "sex"])
    # phenotype rows in another order, matched by individual id; results written into the genotype modality
    md = _pair(small, order=rng.permutation(small.n_obs))
    assert sg.tl.gwas(md, "pheno", covariates=["age", "sex"]) is None
    geno = md.mod["geno"]
    pd.testing.assert_frame_equal(geno.var, g.var)
    assert geno.uns["gwas"]["n_analysed"] == g.uns["gwas"]["n_analysed"] == small.n_obs
    assert geno.uns["gwas"]["null_model"]["pve"] == pytest.approx(g.uns["gwas"]["null_model"]["pve"], rel=1e-12)
    assert "gwas" not in md.mod["pheno"].uns
    # copy=True returns a MuData and leaves the input alone; the kinship computed under an absent key is stored
    md2 = _pair(small)
    del md2.mod["geno"].obsp["kinship"]
    out = sg.tl.gwas(md2, "pheno", method="linear", mod=("geno", "pheno"), copy=True)
    assert type(out) is type(md2)
    assert "gwas_pval" not in md2.mod["geno"].var.columns
    assert "gwas" not in md2.mod["geno"].uns
    ref = sg.tl.gwas(small, "pheno", method="linear", copy=True)
    np.testing.assert_allclose(out.mod["geno"].var["gwas_pval"], ref.var["gwas_pval"], rtol=1e-12)
    sg.tl.gwas(md2, "pheno")
    np.testing.assert_allclose(md2.mod["geno"].obsp["kinship"], small.obsp["kinship"], rtol=1e-6, atol=1e-9)
    # individuals without a phenotype row are not analysed
    part = _pair(small, order=np.arange(100))
    sg.tl.gwas(part, "pheno", method="linear")
    assert part.mod["geno"].uns["gwas"]["n_analysed"] == 100
    # other modality names through mod=
    renamed = type(md)({"G": _pair(small).mod["geno"], "P": _pair(small).mod["pheno"]})
    sg.tl.gwas(renamed, "pheno", method="linear", mod=("G", "P"))
    np.testing.assert_allclose(renamed.mod["G"].var["gwas_pval"], ref.var["gwas_pval"], rtol=1e-12)
    with pytest.raises(ValueError, match="no genotype modality 'snps'"):
        sg.tl.gwas(md, "pheno", mod=("snps", "pheno"), key_added="bad")
    with pytest.raises(ValueError, match="pair"):
        sg.tl.gwas(md, "pheno", mod="geno", key_added="bad")
    assert "bad" not in md.mod["geno"].uns


@pytest.mark.filterwarnings("ignore:From 0.4 .update:FutureWarning")
def test_gwas_layer(small):
    g = small.copy()
    g.layers["dosage"] = g.X.copy()
    g.X = np.zeros_like(g.X)
    sg.tl.gwas(g, "pheno", layer="dosage", method="linear")
    ref = sg.tl.gwas(small, "pheno", method="linear", copy=True)
    np.testing.assert_allclose(g.var["gwas_pval"], ref.var["gwas_pval"], rtol=1e-12)
    assert g.uns["gwas"]["params"]["layer"] == "dosage"
    with pytest.raises(ValueError, match="Layer 'nope' not found"):
        sg.tl.gwas(g, "pheno", layer="nope", key_added="bad")
    # MuData: the layer of the genotype modality
    md = _pair(small)
    md.mod["geno"].layers["dosage"] = md.mod["geno"].X.copy()
    md.mod["geno"].X = np.zeros_like(md.mod["geno"].X)
    sg.tl.gwas(md, "pheno", layer="dosage", method="linear")
    np.testing.assert_allclose(md.mod["geno"].var["gwas_pval"], ref.var["gwas_pval"], rtol=1e-12)


def test_gwas_kinship_none_is_computed_not_stored(small, tmp_path):
    g = small.copy()
    g.obsp["kinship"] = np.eye(g.n_obs)  # a stored kinship that kinship=None must not use
    sg.tl.gwas(g, "pheno", kinship=None)
    assert set(g.obsp) == {"kinship"}
    assert None not in g.uns
    assert g.uns["gwas"]["params"]["kinship"] == "computed"
    ref = small.copy()
    del ref.obsp["kinship"], ref.uns["kinship"]
    sg.tl.gwas(ref, "pheno")  # the default: computed (and stored) under the absent key
    np.testing.assert_allclose(g.var["gwas_pval"], ref.var["gwas_pval"], rtol=1e-10)
    g.write_h5ad(tmp_path / "g.h5ad")
    back = ad.read_h5ad(tmp_path / "g.h5ad")
    np.testing.assert_allclose(back.var["gwas_pval"], g.var["gwas_pval"])
    # LOCO with kinship=None: computed from the genotypes
    sg.tl.gwas(g, "pheno", kinship=None, loco=True, key_added="loco")
    assert set(g.obsp) == {"kinship"}
    with pytest.raises(ValueError, match="kinship must be an obsp key"):
        sg.tl.gwas(g, "pheno", kinship=3, key_added="bad")
    assert "bad" not in g.uns


def test_gwas_rerun_same_key_drops_its_stale_columns(small):
    g = small.copy()
    g.var["gwas_note"] = "kept"  # not a column gwas writes
    sg.tl.gwas(g, "pheno")
    sg.tl.gwas(g, "pheno", method="linear", key_added="gwas_lm")
    assert {"gwas_l_remle", "gwas_l_mle", "gwas_logl_H1"} <= set(g.var.columns)
    sg.tl.gwas(g, "pheno", method="linear")
    lmm_only = {"gwas_l_remle", "gwas_l_mle", "gwas_logl_H1"}
    assert not lmm_only & set(g.var.columns)
    assert "gwas_note" in g.var.columns
    assert "gwas_lm_pval" in g.var.columns  # another key's columns are left alone
    # the linear model records n_obs (GEMMA -lm): analysed individuals with an observed genotype
    tested = g.var["gwas_pval"].notna()
    n_obs = g.var.loc[tested, "gwas_n_obs"]
    assert ((n_obs + g.var.loc[tested, "gwas_n_miss"]) == g.uns["gwas"]["n_analysed"]).all()
    assert (g.var.loc[tested, "gwas_n_miss"] > 0).any()
    assert g.var.loc[~tested, "gwas_n_obs"].isna().all()
    # and back to the LMM: n_obs (linear only) goes away
    sg.tl.gwas(g, "pheno")
    assert lmm_only <= set(g.var.columns)
    assert "gwas_n_obs" not in g.var.columns
    assert g.uns["gwas"]["n_covariates"] == 1


def test_gwas_clear_errors_leave_input_unchanged(small):
    g = small.copy()
    before_var, before_uns, before_obsp = g.var.copy(), set(g.uns), set(g.obsp)
    with pytest.raises(ValueError, match="one phenotype per call"):
        sg.tl.gwas(g, ["pheno", "age"])
    K = np.asarray(g.obsp["kinship"]).copy()
    K[:3, :2] = np.nan
    with pytest.raises(ValueError, match=r"shape \(150, 150\)\) has 6 non-finite") as err:
        sg.tl.gwas(g, "pheno", kinship=K)
    assert len(str(err.value)) < 300  # the matrix itself is not printed
    for col in ("pheno", "age"):
        bad = g.copy()
        bad.obs.loc[bad.obs_names[4], col] = np.inf
        with pytest.raises(ValueError, match=rf"Infinite values in obs column\(s\) \{{'{col}': 1\}}"):
            sg.tl.gwas(bad, "pheno", covariates=["age"])
        assert "gwas" not in bad.uns
    nochrom = g.copy()
    nochrom.var["chrom"] = nochrom.var["chrom"].astype(object)
    nochrom.var.loc[nochrom.var_names[[5, 9]], "chrom"] = None
    with pytest.raises(ValueError, match=r"missing for 2 SNP\(s\), e.g. \['snp006', 'snp010'\]"):
        sg.tl.gwas(nochrom, "pheno", loco=True)
    assert "gwas" not in nochrom.uns
    pd.testing.assert_frame_equal(g.var, before_var)
    assert (set(g.uns), set(g.obsp)) == (before_uns, before_obsp)


def test_cli_demo_steps_are_checked(tmp_path, capsys):
    from scgenome._demo import STEPS
    from scgenome.cli import build_parser, main

    with pytest.raises(SystemExit) as exit_:
        main(["demo", str(tmp_path / "out"), "--steps", "gwass"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'gwass'" in err
    assert not (tmp_path / "out").exists()
    with pytest.raises(SystemExit):
        main(["demo", str(tmp_path / "out"), "--steps"])  # no step given
    helptext = build_parser()._subparsers._group_actions[0].choices["demo"].format_help()
    for name, _ in STEPS:
        assert name in helptext


def test_loco_needs_two_chromosomes_and_mudata_copy_is_quiet():
    import warnings

    mudata = pytest.importorskip("mudata")
    g = sg.datasets.simulate_cohort(n_individuals=100, n_snps=200, n_chromosomes=1, rng=0)
    with pytest.raises(ValueError, match="at least two chromosomes"):
        sg.tl.gwas(g, "pheno", loco=True)
    assert "gwas" not in g.uns
    pheno = ad.AnnData(g.obs[["pheno"]].to_numpy(), obs=pd.DataFrame(index=g.obs_names))
    pheno.var_names = ["pheno"]
    with mudata.set_options(pull_on_update=False):
        md = mudata.MuData({"geno": ad.AnnData(g.X, obs=pd.DataFrame(index=g.obs_names), var=g.var), "pheno": pheno})
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        out = sg.tl.gwas(md, "pheno", method="linear", copy=True)
    assert "gwas_pval" in out["geno"].var.columns
    assert "gwas_pval" not in md["geno"].var.columns


# ------------------------------------------------------------------------------------------------------------------
# LOCO kinship provenance, collinear SNPs, dosage checks, sample selection, backed inputs
# ------------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cohort():
    """200 individuals x 600 SNPs on 3 chromosomes (1% missing genotypes), no kinship stored."""
    return sg.datasets.simulate_cohort(
        200, 600, n_chromosomes=3, n_causal=3, heritability=0.6, missing_rate=0.01, rng=2
    )


def _state(g):
    return g.var.copy(), {k: set(v) if isinstance(v, dict) else None for k, v in g.uns.items()}, set(g.obsp)


def _assert_state(g, before):
    pd.testing.assert_frame_equal(g.var, before[0])
    assert {k: set(v) if isinstance(v, dict) else None for k, v in g.uns.items()} == before[1]
    assert set(g.obsp) == before[2]


def test_kinship_loco_parts_never_outlive_their_kinship(cohort):
    g = cohort.copy()
    sg.pp.kinship(g, loco=True)
    loco = g.uns["kinship_loco"]
    K = g.obsp["kinship"]
    assert loco["kinship_trace"] == pytest.approx(np.trace(K), rel=1e-12)
    assert loco["kinship_sumsq"] == pytest.approx((K * K).sum(), rel=1e-12)
    # a new kinship without loco drops the parts of the old one ...
    sg.pp.kinship(g, method="standardized")
    assert "kinship_loco" not in g.uns
    # ... and LOCO then follows the new (standardized) kinship, rebuilt from the SNPs it records
    sg.tl.gwas(g, "pheno", loco=True)
    ref = cohort.copy()
    sg.pp.kinship(ref, method="standardized", loco=True)
    sg.tl.gwas(ref, "pheno", loco=True)
    np.testing.assert_allclose(g.var["gwas_pval"], ref.var["gwas_pval"], rtol=1e-6)
    assert g.uns["gwas"]["null_model"]["1"]["pve"] == pytest.approx(ref.uns["gwas"]["null_model"]["1"]["pve"], rel=1e-6)
    # parts that do not add up to obsp[kinship] (matrix replaced by hand) are refused, nothing written
    bad = ref.copy()
    bad.obsp["kinship"] = sg.pp.kinship(cohort, copy=True).obsp["kinship"]  # the centred one
    before = _state(bad)
    with pytest.raises(ValueError, match=r"uns\['kinship_loco'\] does not belong to obsp\['kinship'\] \(trace"):
        sg.tl.gwas(bad, "pheno", loco=True, key_added="stale")
    _assert_state(bad, before)
    # individuals subset after the parts were stored: their shape no longer fits
    sub = ref[:150].copy()
    with pytest.raises(ValueError, match=r"parts of shape \(3, 200, 200\), kinship \(150, 150\)"):
        sg.tl.gwas(sub, "pheno", loco=True, key_added="stale")
    assert "stale" not in sub.uns


def test_loco_refuses_a_kinship_whose_parts_are_unknown(cohort):
    g = cohort.copy()
    before = _state(g)
    with pytest.raises(ValueError, match="a kinship array does not carry"):
        sg.tl.gwas(g, "pheno", loco=True, kinship=np.eye(g.n_obs), key_added="eye")
    g.obsp["mykin"] = 5 * np.eye(g.n_obs) + 0.1
    before = _state(g)
    with pytest.raises(ValueError, match=r"uns\['mykin'\] does not record the SNPs .* kinship=None"):
        sg.tl.gwas(g, "pheno", loco=True, kinship="mykin", key_added="mine")
    _assert_state(g, before)
    # the default workflow: the absent key is computed with its LOCO parts and stored, then reused
    sg.tl.gwas(g, "pheno", loco=True)
    assert list(g.uns["kinship_loco"]["chroms"]) == ["1", "2", "3"]
    assert int(g.uns["kinship_loco"]["n_snps"].sum()) == g.uns["kinship"]["params"]["n_snps"]
    sg.tl.gwas(g, "pheno", loco=True, key_added="again")
    np.testing.assert_allclose(g.var["again_pval"], g.var["gwas_pval"], rtol=1e-6)
    sg.tl.gwas(g, "pheno", loco=True, kinship=None, key_added="none")
    np.testing.assert_allclose(g.var["none_pval"], g.var["gwas_pval"], rtol=1e-6)
    # a kinship stored by a plain LMM run (no parts): rebuilt from the SNPs uns records, equal to the above
    sg.tl.gwas(g, "pheno", kinship="k2", key_added="plain")
    assert "k2_loco" not in g.uns
    sg.tl.gwas(g, "pheno", loco=True, kinship="k2", key_added="k2_run")
    np.testing.assert_allclose(g.var["k2_run_pval"], g.var["gwas_pval"], rtol=1e-6)
    assert g.uns["k2_run"]["params"]["kinship"] == "k2"
    # ... unless the matrix no longer is the kinship of those SNPs
    g.obsp["k2"] = g.obsp["k2"] * 2
    with pytest.raises(ValueError, match=r"obsp\['k2'\] is not the kinship of the SNPs recorded in uns\['k2'\]"):
        sg.tl.gwas(g, "pheno", loco=True, kinship="k2", key_added="k2_bad")
    assert "k2_bad" not in g.uns


def test_loco_chromosome_absent_from_the_kinship_uses_the_full_kinship(cohort):
    g = cohort.copy()
    g.var["chrom"] = g.var["chrom"].astype(str).replace({"3": "X"})
    on_x = (g.var["chrom"] == "X").to_numpy()
    sg.pp.kinship(g, snps=~on_x, loco=True)  # autosomal kinship
    assert list(g.uns["kinship_loco"]["chroms"]) == ["1", "2"]
    sg.tl.gwas(g, "pheno", loco=True)
    sg.tl.gwas(g, "pheno", key_added="plain")  # the full (autosomal) kinship for every SNP
    tested_x = on_x & g.var["gwas_pval"].notna().to_numpy()
    assert tested_x.sum() > 50
    np.testing.assert_allclose(g.var["gwas_pval"][tested_x], g.var["plain_pval"][tested_x], rtol=1e-6)
    assert g.uns["gwas"]["null_model"]["X"]["pve"] == pytest.approx(g.uns["plain"]["null_model"]["pve"], rel=1e-6)
    assert not np.allclose(g.var["gwas_pval"][~on_x], g.var["plain_pval"][~on_x], rtol=1e-3)


def test_loco_counts_the_chromosomes_of_the_snps_passing_qc(cohort):
    g = cohort.copy()
    X = np.asarray(g.X).copy()
    X[:, (g.var["chrom"].astype(str) != "1").to_numpy()] = 1.0  # chromosomes 2 and 3 monomorphic
    g.X = X
    before = _state(g)
    with pytest.raises(ValueError, match=r"at least two chromosomes \(found 1, \['1'\], among the \d+ SNPs that pass"):
        sg.tl.gwas(g, "pheno", loco=True)
    _assert_state(g, before)


def test_snp_collinear_with_the_covariates_is_not_tested(cohort):
    g = cohort.copy()
    top = "snp010"
    g.obs["top"] = np.asarray(g[:, top].X, dtype=float).ravel()  # conditioning on a SNP (GEMMA -c); NaN = dropped
    for method in ("linear", "lmm"):
        with pytest.warns(UserWarning, match=r"1 SNP\(s\) passing the QC are collinear .*\['snp010'\]"):
            sg.tl.gwas(g, "pheno", covariates=["top"], method=method, key_added=method)
        v = g.var.loc[top, [f"{method}_{f}" for f in ("beta", "se", "pval", "p_lrt", "p_score", "af")]]
        assert v.isna().all()
        info = g.uns[method]
        assert info["n_snps_collinear"] == 1
        df = sg.get.gwas_df(g, method)
        assert len(df) == info["n_snps_tested"] == int(g.var[f"{method}_pval"].notna().sum())
        assert top not in set(df["rs"])
    # the other SNPs: ordinary least squares on [1, top, x] over the individuals with top observed
    keep = g.obs["top"].notna().to_numpy()
    snp = "snp050"
    x = np.asarray(g[:, snp].X, dtype=float).ravel()[keep]
    x = np.where(np.isnan(x), np.nanmean(x), x)
    A = np.column_stack([np.ones(keep.sum()), g.obs["top"].to_numpy()[keep], x])
    coef = np.linalg.lstsq(A, g.obs["pheno"].to_numpy()[keep], rcond=None)[0]
    assert g.var.loc[snp, "linear_beta"] == pytest.approx(coef[2], rel=1e-8)
    # a tested SNP keeps its gwas_df row even if its p-value is NaN
    g.var.loc[snp, "linear_pval"] = np.nan
    assert len(sg.get.gwas_df(g, "linear")) == g.uns["linear"]["n_snps_tested"]


@pytest.mark.parametrize("bad", [-9.0, -127.0, 7.0, np.inf])
def test_genotypes_outside_0_2_raise_before_writing(cohort, bad, tmp_path, monkeypatch):
    import dask.array as da
    import scipy.sparse as sp

    from scgenome.tl._gwas import _api

    X = np.asarray(cohort.X).copy()
    X[:4, 450] = bad  # in the last of several chunks
    dense = cohort.copy()
    dense.X = X
    dense.write_h5ad(tmp_path / "bad.h5ad")
    inputs = {
        "numpy": dense,
        "dask": ad.AnnData(da.from_array(X, chunks=(200, 100)), obs=cohort.obs, var=cohort.var),
        "csr": ad.AnnData(sp.csr_matrix(np.where(np.isnan(X), 0, X)), obs=cohort.obs, var=cohort.var),
        "backed": ad.read_h5ad(tmp_path / "bad.h5ad", backed="r"),
    }
    shown = "inf" if np.isinf(bad) else f"{bad:g}"
    match = rf"hold 4 value\(s\) outside the dosage range \[0, 2\], e.g. {shown} \(first at SNP 'snp451'\)"
    for name, g in inputs.items():
        before = _state(g)
        for call in (
            lambda g=g: sg.pp.snp_qc(g, chunk_size=200),
            lambda g=g: sg.pp.kinship(g, chunk_size=200, maf=0.0),
            lambda g=g: sg.pp.kinship(g, snps=np.ones(g.n_vars, bool), chunk_size=200),
            lambda g=g: sg.tl.gwas(g, "pheno", chunk_size=200),
            lambda g=g: sg.tl.gwas(g, "pheno", method="linear", chunk_size=200),
        ):
            with pytest.raises(ValueError, match=match):
                call()
        _assert_state(g, before)
        assert "snp_qc_pass" not in g.var.columns, name
    # the compiled linear pass that reads X in place checks it too
    monkeypatch.setattr(_api, "_JIT_MIN", 0)
    with pytest.raises(ValueError, match=match):
        sg.tl.gwas(dense, "pheno", method="linear", chunk_size=200)
    assert "gwas" not in dense.uns


def test_dosages_in_range_and_plink_reads_pass(tmp_path):
    from bed_reader import to_bed

    X = np.array([[0, 1, 2, 0.37], [2, np.nan, 1, 1.5], [1, 1, 0, 0.0], [0, 2, 1, 2.0]], dtype=np.float32)
    g = ad.AnnData(X)
    sg.pp.snp_qc(g, max_missing=0.5)  # fractional dosages and NaN are fine
    np.testing.assert_allclose(g.var["snp_qc_af"], [3 / 8, 4 / 6, 4 / 8, 3.87 / 8], rtol=1e-6)
    # read_plink: missing calls come back as NaN, which passes
    props = {"iid": [f"i{i}" for i in range(4)], "sid": ["a", "b", "c"], "chromosome": ["1", "1", "2"]}
    to_bed(tmp_path / "t.bed", X[:, :3].round(), properties=props)
    p = sg.io.read_plink(tmp_path / "t")
    assert int(np.isnan(p.X).sum()) == 1
    st = sg.pp.snp_qc(p, max_missing=0.5, inplace=False)
    assert st["n_miss"].tolist() == [0, 1, 0]


def test_samples_object_bool_column_and_empty_selection():
    g = sg.datasets.simulate_cohort(100, 60, n_chromosomes=2, rng=0)
    g.obs["keep"] = pd.Series([True, False, np.nan] * 33 + [True], index=g.obs_names, dtype=object)
    sg.pp.snp_qc(g, samples="keep")
    assert g.uns["snp_qc"]["params"]["n_samples"] == 34  # the True rows; NaN = not selected
    ref = sg.pp.snp_qc(g, samples=(g.obs["keep"] == True).to_numpy(), inplace=False)  # noqa: E712
    np.testing.assert_array_equal(g.var["snp_qc_af"], ref["af"])
    before = _state(g)
    with pytest.raises(ValueError, match=r"samples=list selects no individuals \(of 100\)"):
        sg.pp.snp_qc(g, samples=[])
    with pytest.raises(ValueError, match=r"samples=ndarray selects no individuals \(of 100\)"):
        sg.pp.kinship(g, samples=np.zeros(g.n_obs, bool))
    g.obs["none"] = False
    with pytest.raises(ValueError, match=r"samples='none' selects no individuals"):
        sg.pp.snp_qc(g, samples="none")
    _assert_state(g, before)


def test_key_collisions_and_missing_chromosomes(cohort):
    g = cohort.copy()
    sg.pp.kinship(g)
    before = _state(g)
    for key in ("kinship", "kinship_loco"):
        with pytest.raises(ValueError, match=f"key_added='{key}' collides with the kinship key 'kinship'"):
            sg.tl.gwas(g, "pheno", key_added=key)
    _assert_state(g, before)
    g.var["chrom"] = g.var["chrom"].astype(object)
    g.var.loc[g.var_names[[5, 9]], "chrom"] = None
    before = _state(g)
    msg = r"var\['chrom'\] is missing for 2 SNP\(s\), e.g. \['snp006', 'snp010'\]"
    for call in (lambda: sg.pp.kinship(g, loco=True), lambda: sg.tl.gwas(g, "pheno", loco=True)):
        with pytest.raises(ValueError, match=msg):
            call()
    _assert_state(g, before)
    # SNPs without a chromosome that the kinship does not use are fine
    sg.pp.kinship(g, snps=g.var["chrom"].notna().to_numpy(), loco=True)
    assert list(g.uns["kinship_loco"]["chroms"]) == ["1", "2", "3"]


def test_backed_copy_is_refused_up_front_and_progress_over_qc_chunks(cohort, tmp_path, monkeypatch):
    from scgenome.pp import _kinship, _qc

    cohort.write_h5ad(tmp_path / "g.h5ad")
    g = ad.read_h5ad(tmp_path / "g.h5ad", backed="r")

    def never(*args, **kwargs):
        msg = "computed before the argument check"
        raise AssertionError(msg)

    monkeypatch.setattr(_kinship, "snp_stats", never)
    for call in (lambda: sg.pp.kinship(g, copy=True), lambda: sg.tl.gwas(g, "pheno", copy=True)):
        with pytest.raises(ValueError, match=r"copy=True\) cannot copy a backed AnnData .* adata.to_memory\(\)"):
            call()
    assert "kinship" not in g.obsp
    monkeypatch.undo()
    sg.tl.gwas(g, "pheno", method="linear")  # copy=False works on the backed object
    assert g.uns["gwas"]["n_snps_tested"] > 0
    # snp_qc reports progress over its chunks
    seen = []

    def recorder(iterable=None, **kwargs):
        seen.append((kwargs.get("desc"), len(iterable)))
        return iterable

    monkeypatch.setattr(_qc, "progress", recorder)
    sg.pp.snp_qc(cohort.copy(), chunk_size=250)
    assert seen == [("snp_qc", 3)]


def test_backed_csr_is_read_by_row_slices(cohort, tmp_path, monkeypatch):
    import scipy.sparse as sp
    from anndata.abc import CSRDataset

    from scgenome.pp import _genotypes

    X = np.nan_to_num(np.asarray(cohort.X))
    ad.AnnData(sp.csr_matrix(X), obs=cohort.obs, var=cohort.var).write_h5ad(tmp_path / "csr.h5ad")
    g = ad.read_h5ad(tmp_path / "csr.h5ad", backed="r")
    assert isinstance(g.X, CSRDataset)
    monkeypatch.setattr(_genotypes, "CSR_READ_ELEMENTS", 30 * g.n_vars)  # 30 rows at a time
    reads = []
    cls = type(g.X)
    orig = cls.__getitem__

    def spy(self, key):
        reads.append(key)
        return orig(self, key)

    monkeypatch.setattr(cls, "__getitem__", spy)
    rows = np.zeros(g.n_obs, bool)
    rows[::3] = True
    cols = np.arange(100, 180)
    block = _genotypes.genotype_block(g.X, rows, cols)
    np.testing.assert_array_equal(block, X[np.ix_(rows, cols)])
    assert all(isinstance(k, slice) and k.stop - k.start <= 30 for k in reads)
    assert len(reads) == 7  # ceil(200 / 30)
    np.testing.assert_array_equal(_genotypes.genotype_block(g.X, None, slice(0, 50)), X[:, :50])
    # the whole pipeline on the backed CSR equals the in-memory run
    monkeypatch.undo()
    ref = ad.AnnData(X, obs=cohort.obs.copy(), var=cohort.var.copy())
    sg.tl.gwas(ref, "pheno", method="linear")
    sg.tl.gwas(g, "pheno", method="linear", chunk_size=170)
    np.testing.assert_allclose(g.var["gwas_pval"], ref.var["gwas_pval"], rtol=1e-10)


# ------------------------------------------------------------------ kinship checks (issue 25)
def test_kinship_must_be_symmetric_and_psd():
    g = sg.datasets.simulate_cohort(120, 400, n_causal=2, heritability=0.5, rng=3)
    sg.pp.kinship(g)
    K = np.asarray(g.obsp["kinship"], dtype=np.float64)
    before_var, before_uns = g.var.copy(), set(g.uns)
    # round-off far below the tolerance passes: a float32 copy and a slightly asymmetric one give the same p-values
    ref = sg.tl.gwas(g, "pheno", kinship=K, copy=True).var["gwas_pval"]
    noisy = K + np.triu(np.full_like(K, 1e-9 * np.abs(K).max()), 1)
    for ok in (K.astype(np.float32), noisy):
        np.testing.assert_allclose(sg.tl.gwas(g, "pheno", kinship=ok, copy=True).var["gwas_pval"], ref, rtol=1e-3)
    asym = K.copy()
    asym[3, 7] += 0.05
    neg = -K
    w, V = np.linalg.eigh(K - K.mean(0) - K.mean(1)[:, None] + K.mean())
    indefinite = K - 3 * w[-1] * np.outer(V[:, -1], V[:, -1])  # the top direction flipped
    cases = [
        (asym, r"kinship \(array, on the 120 analysed individuals\) is not symmetric: \|K\[3, 7\] - K\[7, 3\]\|"),
        (neg, r"kinship \(array\) is not positive semi-definite: .*largest -?\d"),
        (indefinite, r"not positive semi-definite: .*smallest eigenvalue is -\d.* \(1 eigenvalue\(s\) below"),
    ]
    for bad, match in cases:
        with pytest.raises(ValueError, match=match):
            sg.tl.gwas(g, "pheno", kinship=bad)
        # the same matrix stored in obsp
        g.obsp["bad"] = bad
        with pytest.raises(ValueError, match=match.replace(r"\(array", r"\(obsp\['bad'\]")):
            sg.tl.gwas(g, "pheno", kinship="bad")
        del g.obsp["bad"]
    pd.testing.assert_frame_equal(g.var, before_var)
    assert set(g.uns) == before_uns
    # the largest eigenvalue is computed anyway: the tolerance is relative to it
    assert _model.KINSHIP_RTOL == 1e-5
    ev, _ = _model.eigen_kinship(K, what="x")
    assert ev.min() >= 0
