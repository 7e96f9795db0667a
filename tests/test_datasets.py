from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import scgenome as sg


@pytest.fixture(scope="module")
def cohort():
    return sg.datasets.simulate_cohort(600, 3000, n_chromosomes=5, n_causal=8, heritability=0.6, rng=7)


def _standardise(X):
    X = np.asarray(X, dtype=np.float64)
    mu = np.nanmean(X, axis=0)
    X = np.where(np.isnan(X), mu, X)
    sd = X.std(axis=0)
    keep = sd > 0
    return (X[:, keep] - mu[keep]) / sd[keep], keep


def test_contract_shapes_and_dtypes(cohort):
    g = cohort
    assert g.shape == (600, 3000)
    assert g.X.dtype == np.float32
    assert set(np.unique(g.X)) <= {0.0, 1.0, 2.0}
    assert list(g.var.columns) == ["chrom", "pos", "cm", "allele1", "allele0"]
    assert str(g.var["pos"].dtype) == "Int64"
    assert g.var["cm"].dtype == np.float64
    assert list(pd.unique(g.var["chrom"])) == ["1", "2", "3", "4", "5"]
    assert (g.var["allele1"] != g.var["allele0"]).all()
    assert g.var_names.is_unique
    assert g.obs_names.is_unique
    for c, sub in g.var.groupby("chrom", observed=True):
        assert (np.diff(sub["pos"].to_numpy(dtype=np.int64)) > 0).all(), c
        assert (np.diff(sub["cm"].to_numpy()) >= 0).all(), c
    assert g.obs["pheno"].dtype == np.float64
    assert set(g.obs["pheno_binary"].unique()) == {0, 1}
    assert set(g.obs["sex"].unique()) == {0, 1}
    assert g.obs["age"].dtype == np.float64
    assert list(g.obs["population"].cat.categories) == ["pop1", "pop2", "pop3"]
    truth = g.uns["simulation"]
    assert len(truth["causal_snps"]) == 8
    assert set(truth["causal_snps"]) <= set(g.var_names)
    assert truth["causal_effects"].shape == (8,)
    assert truth["genetic_value"].shape == (600,)
    np.testing.assert_allclose(truth["admixture"].sum(axis=1), 1.0)


def test_reproducible_bit_for_bit():
    kw = {"n_chromosomes": 3, "n_causal": 3, "missing_rate": 0.01}
    a = sg.datasets.simulate_cohort(120, 400, rng=3, **kw)
    b = sg.datasets.simulate_cohort(120, 400, rng=np.random.default_rng(3), **kw)
    c = sg.datasets.simulate_cohort(120, 400, rng=4, **kw)
    np.testing.assert_array_equal(a.X, b.X)  # NaN positions equal too
    pd.testing.assert_frame_equal(a.obs, b.obs)
    pd.testing.assert_frame_equal(a.var, b.var)
    assert list(a.uns["simulation"]["causal_snps"]) == list(b.uns["simulation"]["causal_snps"])
    assert not np.array_equal(np.nan_to_num(a.X), np.nan_to_num(c.X))
    assert 0.005 < np.isnan(a.X).mean() < 0.015


def test_ld_decays_with_distance(cohort):
    Z, keep = _standardise(cohort.X)
    chrom = cohort.var["chrom"].to_numpy()[keep]
    n = Z.shape[0]

    def mean_r2(lag):
        i = np.arange(Z.shape[1] - lag)
        i = i[chrom[i] == chrom[i + lag]]
        r = (Z[:, i] * Z[:, i + lag]).sum(axis=0) / n
        return float((r**2).mean())

    r2_adjacent, r2_10, r2_200 = mean_r2(1), mean_r2(10), mean_r2(200)
    # unlinked SNPs: r2 ~ 1/n plus a little from structure
    assert r2_adjacent > 0.15
    assert r2_adjacent > r2_10 > r2_200
    assert r2_200 < 0.03


def test_population_structure_visible_in_pcs(cohort):
    Z, _ = _standardise(cohort.X)
    u, s, _ = np.linalg.svd(Z, full_matrices=False)
    pcs = u[:, :2] * s[:2]
    pop = cohort.obs["population"].cat.codes.to_numpy()
    centroids = np.stack([pcs[pop == k].mean(axis=0) for k in range(3)])
    nearest = np.argmin(((pcs[:, None, :] - centroids[None]) ** 2).sum(axis=2), axis=1)
    assert (nearest == pop).mean() > 0.98
    # without structure the first PCs explain much less
    flat = sg.datasets.simulate_cohort(600, 3000, n_chromosomes=5, structure="none", rng=7)
    Zf, _ = _standardise(flat.X)
    sf = np.linalg.svd(Zf, compute_uv=False)
    assert (s[:2] ** 2).sum() / (s**2).sum() > 3 * (sf[:2] ** 2).sum() / (sf**2).sum()
    assert list(flat.obs["population"].cat.categories) == ["pop1"]


def test_siblings_share_more_genome(cohort):
    Z, _ = _standardise(cohort.X)
    K = Z @ Z.T / Z.shape[1]
    fam = cohort.obs["family"].to_numpy()
    pop = cohort.obs["population"].to_numpy()
    iu = np.triu_indices(len(fam), 1)
    sib = (fam[iu[0]] == fam[iu[1]]) & (fam[iu[0]] != "none")
    same_pop = (pop[iu[0]] == pop[iu[1]]) & ~sib
    assert sib.sum() >= 60
    k_sib = K[iu][sib].mean()
    k_pop = K[iu][same_pop].mean()
    # full sibs share half their genome (GRM ~ 0.5) on top of their population background
    assert 0.35 < k_sib - k_pop < 0.65


def test_heritability_decomposition():
    for h2 in (0.2, 0.5, 0.8):
        g = sg.datasets.simulate_cohort(800, 2000, n_chromosomes=4, heritability=h2, n_causal=5, rng=11)
        t = g.uns["simulation"]
        assert t["heritability"] == pytest.approx(h2, abs=1e-9)
        # the phenotypic variance share, which includes the covariance that stratification creates
        assert abs(t["genetic_share"] - h2) < 0.15
        assert abs(np.var(t["genetic_value"]) / np.var(t["genetic_value"] + t["environment"]) - h2) < 0.15
        assert np.var(t["causal_value"]) == pytest.approx(h2 * 0.5, rel=1e-6)
        assert np.var(t["polygenic_value"]) == pytest.approx(h2 * 0.5, rel=1e-6)
        # the phenotype is exactly the sum of its parts
        cov = t["covariate_effects"]
        age, sex = g.obs["age"].to_numpy(), g.obs["sex"].to_numpy()
        rebuilt = (
            t["genetic_value"] + t["environment"] + cov["age"] * (age - age.mean()) + cov["sex"] * (sex - sex.mean())
        )
        np.testing.assert_allclose(g.obs["pheno"].to_numpy(), rebuilt, atol=1e-10)
        # per-SNP causal effects reproduce the causal genetic value
        Xc = g[:, list(t["causal_snps"])].X.astype(np.float64)
        gc = (Xc - Xc.mean(axis=0)) @ t["causal_effects"]
        np.testing.assert_allclose(gc, t["causal_value"], atol=1e-8)
    # without stratification the genetic value and the environment are uncorrelated: shares exact
    g = sg.datasets.simulate_cohort(400, 1000, n_chromosomes=2, heritability=0.4, stratification=0.0, rng=5)
    t = g.uns["simulation"]
    assert np.var(t["genetic_value"]) / np.var(t["genetic_value"] + t["environment"]) == pytest.approx(0.4, abs=1e-9)


def test_causal_snps_are_associated(cohort):
    # marginal tests adjusted for population (plain regression is inflated by the structure)
    D = pd.get_dummies(cohort.obs["population"]).to_numpy(dtype=np.float64)
    y = cohort.obs["pheno"].to_numpy()
    y = y - D @ np.linalg.lstsq(D, y, rcond=None)[0]
    Z, keep = _standardise(cohort.X)
    Z = Z - D @ np.linalg.lstsq(D, Z, rcond=None)[0]
    r = (Z.T @ y) / np.sqrt((Z**2).sum(axis=0) * (y @ y))
    chi2 = len(y) * r**2
    causal = np.isin(cohort.var_names[keep], cohort.uns["simulation"]["causal_snps"])
    assert np.median(chi2[causal]) > 8 * np.median(chi2[~causal])


@pytest.mark.parametrize("prevalence", [0.1, 0.3, 0.5])
def test_binary_prevalence(prevalence):
    g = sg.datasets.simulate_cohort(500, 300, n_chromosomes=2, n_causal=2, prevalence=prevalence, rng=1)
    assert abs(g.obs["pheno_binary"].mean() - prevalence) <= 1 / 500
    t = g.uns["simulation"]["liability_threshold"]
    assert (g.obs["pheno_binary"].to_numpy() == (g.obs["pheno"].to_numpy() > t)).all()
    # cases have the higher liability: the binary trait is heritable too
    gv = g.uns["simulation"]["genetic_value"]
    b = g.obs["pheno_binary"].to_numpy() == 1
    assert gv[b].mean() > gv[~b].mean()


def test_admixed_structure():
    g = sg.datasets.simulate_cohort(300, 1000, n_chromosomes=3, structure="admixed", n_populations=4, rng=2)
    q = g.uns["simulation"]["admixture"]
    assert q.shape == (300, 4)
    assert (q.max(axis=1) < 0.99).mean() > 0.5  # most individuals are mixed
    np.testing.assert_array_equal(g.obs["population"].cat.codes.to_numpy(), q.argmax(axis=1))


def test_write_h5ad_roundtrip(tmp_path):
    import anndata as ad

    g = sg.datasets.simulate_cohort(50, 200, n_chromosomes=2, n_causal=2, rng=0)
    g.write_h5ad(tmp_path / "c.h5ad")
    back = ad.read_h5ad(tmp_path / "c.h5ad")
    np.testing.assert_array_equal(back.X, g.X)
    assert list(back.uns["simulation"]["causal_snps"]) == list(g.uns["simulation"]["causal_snps"])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"heritability": 1.2}, "heritability"),
        ({"prevalence": 0.0}, "prevalence"),
        ({"structure": "clusters"}, "structure"),
        ({"fst": 0.0}, "fst"),
        ({"n_snps": 3, "n_chromosomes": 2}, "n_snps"),
        ({"n_causal": 10_000}, "n_causal"),
        ({"relatedness": 1.0}, "relatedness"),
    ],
)
def test_bad_parameters(kwargs, match):
    kw = {"n_individuals": 50, "n_snps": 200, "n_chromosomes": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        sg.datasets.simulate_cohort(rng=0, **kw)


def test_simulate_counts_truth_is_recovered_by_negbin_fit():
    adata = sg.datasets.simulate_counts(3000, 40, size_factors=True, rng=1)
    assert adata.shape == (3000, 40)
    assert set(adata.obs.columns) >= {"pseudotime", "x", "batch", "size_factor"}
    X = adata.X.toarray()
    assert (X >= 0).all()
    assert np.array_equal(X, np.round(X))
    sg.tl.negbin_fit(adata, adata.uns["simulation"]["formulas"], size_factors="size_factor")
    est, true = adata.varm["negbin_mean"], adata.varm["true_mean"]
    assert list(est.columns) == list(true.columns) == ["Intercept", "pseudotime", "batch[T.b2]"]
    z = ((est - true) / adata.varm["negbin_mean_se"]).to_numpy()
    # the truth lies within its confidence interval as often as it should (160 coefficients)
    assert 0.9 <= float((np.abs(z) < 1.96).mean()) <= 0.99
    assert 0.75 < float(z.std()) < 1.25
    gamma = adata.varm["negbin_dispersion"]["Intercept"] - adata.varm["true_dispersion"]["Intercept"]
    assert float(np.abs(gamma).median()) < 0.15


def test_simulate_counts_seeded_formulas_and_errors():
    a = sg.datasets.simulate_counts(200, 5, rng=3)
    b = sg.datasets.simulate_counts(200, 5, rng=3)
    assert np.array_equal(a.X.toarray(), b.X.toarray())
    assert not np.array_equal(a.X.toarray(), sg.datasets.simulate_counts(200, 5, rng=4).X.toarray())
    c = sg.datasets.simulate_counts(300, 4, formulas={"mean": "~ x", "dispersion": "~ batch"}, n_batches=3, rng=0)
    assert list(c.varm["true_dispersion"].columns) == ["Intercept", "batch[T.b2]", "batch[T.b3]"]
    with pytest.raises(ValueError, match="n_cells"):
        sg.datasets.simulate_counts(0, 5)
    with pytest.raises(ValueError, match="'mean' formula"):
        sg.datasets.simulate_counts(10, 5, formulas={"dispersion": "~ 1"})
    with pytest.raises(ValueError, match="columns"):
        sg.datasets.simulate_counts(10, 5, formulas={"mean": "~ age"})
    with pytest.raises(ValueError, match="one row per cell"):
        sg.datasets.simulate_counts(10, 5, obs=pd.DataFrame({"x": [1.0, 2.0]}))
