from __future__ import annotations

from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy import stats

import scgenome as sg
from scgenome.tl._negbin._api import ledoit_wolf_shrinkage

SEED_FORMULAS = {"mean": "~ mean_dim0 + mean_dim1 - 1", "dispersion": "~ dispersion_dim0 + dispersion_dim1 - 1"}


def seed_experiment(n: int, g: int = 20):
    """The seed notebook's simulation, exactly (global numpy seed 0)."""
    np.random.seed(0)  # noqa: NPY002 - the issue's experiment uses the legacy global seed
    x1 = np.random.normal(size=(n, 2))  # noqa: NPY002
    x2 = np.random.normal(size=(n, 2))  # noqa: NPY002
    b = np.random.normal(size=(2, g))  # noqa: NPY002
    d = np.random.normal(size=(2, g))  # noqa: NPY002
    mu = np.exp(x1 @ b)
    r = np.exp(x2 @ d)
    y = np.random.negative_binomial(r, r / (r + mu))  # noqa: NPY002
    obs = pd.DataFrame(
        {"mean_dim0": x1[:, 0], "mean_dim1": x1[:, 1], "dispersion_dim0": x2[:, 0], "dispersion_dim1": x2[:, 1]},
        index=[f"cell{i}" for i in range(n)],
    )
    adata = ad.AnnData(y.astype(np.float32), obs=obs)
    adata.var_names = [f"gene{j}" for j in range(g)]
    return adata, b, d, mu, r


@pytest.fixture(scope="module")
def seed_fit():
    adata, b, d, mu, r = seed_experiment(10_000)
    sg.tl.negbin_fit(adata, SEED_FORMULAS)
    return adata, b, d, mu, r


def small_nb(n=600, g=8, seed=0, sparse=False):
    rng = np.random.default_rng(seed)
    obs = pd.DataFrame(
        {"x": rng.normal(size=n), "batch": pd.Categorical(rng.choice(["a", "b", "c"], n))},
        index=[f"c{i}" for i in range(n)],
    )
    xb = np.column_stack([np.ones(n), obs["x"], obs["batch"] == "b", obs["batch"] == "c"]).astype(float)
    beta = rng.normal(0, 0.5, size=(4, g))
    beta[0] += 1.5
    mu = np.exp(xb @ beta)
    r = np.exp(rng.normal(1, 0.3, size=g))
    y = rng.negative_binomial(r, r / (r + mu)).astype(np.float64)
    y[:, -1] = 0  # an all-zero gene
    adata = ad.AnnData(sp.csr_matrix(y) if sparse else y, obs=obs)
    adata.var_names = [f"g{j}" for j in range(g)]
    return adata


def test_seed_experiment_accuracy(seed_fit):
    adata, b, d, _, _ = seed_fit
    params = sg.get.negbin_params(adata)
    assert list(params["beta"].index) == ["mean_dim0", "mean_dim1"]
    assert params["beta"].shape == (2, 20)
    mae_beta = np.abs(params["beta"].to_numpy() - b).mean()
    mae_gamma = np.abs(params["gamma"].to_numpy() - d).mean()
    assert mae_beta <= 0.015
    assert mae_gamma <= 0.035
    assert adata.var["negbin_converged"].all()
    assert (adata.var["negbin_n_iter"] < 30).all()


def test_seed_loglik_at_least_truth(seed_fit):
    adata, _, _, mu, r = seed_fit
    y = adata.X
    ll_true = stats.nbinom.logpmf(y, r, r / (r + mu)).sum(axis=0)
    ll_fit = adata.var["negbin_loglik"].to_numpy()
    assert np.all(ll_fit >= ll_true - 1e-6)
    # and the fitted log-likelihood is the NB log-likelihood of the fitted parameters
    pred = sg.tl.negbin_predict(adata)
    m, s = pred["mean"].to_numpy(), pred["dispersion"].to_numpy()
    np.testing.assert_allclose(stats.nbinom.logpmf(y, s, s / (s + m)).sum(axis=0), ll_fit, rtol=1e-9)


def test_seed_errors_shrink_with_n():
    errs = []
    for n in (500, 2_000, 8_000):
        adata, b, d, _, _ = seed_experiment(n)
        sg.tl.negbin_fit(adata, SEED_FORMULAS)
        p = sg.get.negbin_params(adata)
        errs.append((np.abs(p["beta"].to_numpy() - b).mean(), np.abs(p["gamma"].to_numpy() - d).mean()))
    errs = np.array(errs)
    assert np.all(np.diff(errs[:, 0]) < 0)
    assert np.all(np.diff(errs[:, 1]) < 0)
    # about 1/sqrt(n): 16x more cells, at least 2.5x smaller errors
    assert np.all(errs[0] / errs[-1] > 2.5)


def test_wald_calibration_and_coverage():
    rng = np.random.default_rng(1)
    n, g = 1_500, 3_000
    obs = pd.DataFrame({"x": rng.normal(size=n), "null": rng.normal(size=n)}, index=[f"c{i}" for i in range(n)])
    b0 = rng.normal(0.5, 0.7, size=g)
    b1 = rng.normal(0, 0.3, size=g)
    mu = np.exp(b0[None, :] + obs["x"].to_numpy()[:, None] * b1[None, :])
    r = np.exp(rng.normal(1.0, 0.5, size=g))[None, :]
    y = rng.negative_binomial(r, r / (r + mu))
    adata = ad.AnnData(sp.csr_matrix(y.astype(np.float64)), obs=obs)
    sg.tl.negbin_fit(adata, {"mean": "~ x + null", "dispersion": "~ 1"})
    assert adata.var["negbin_converged"].all()
    null = sg.get.negbin_df(adata, "null")
    type1 = (null["pval"] < 0.05).mean()
    assert 0.04 <= type1 <= 0.06
    assert 0.0 <= null["padj"].min() <= 1.0
    assert (null["padj"] >= null["pval"] - 1e-12).all()
    for term, truth in (("Intercept", b0), ("x", b1)):
        df = sg.get.negbin_df(adata, term)
        cover = (np.abs(df["estimate"] - truth) <= 1.96 * df["se"]).mean()
        assert cover >= 0.94, (term, cover)


def test_poisson_family_recovers_truth():
    rng = np.random.default_rng(2)
    n, g = 3_000, 30
    obs = pd.DataFrame({"x": rng.normal(size=n)}, index=[f"c{i}" for i in range(n)])
    beta = np.vstack([rng.normal(1, 0.5, g), rng.normal(0, 0.5, g)])
    mu = np.exp(np.column_stack([np.ones(n), obs["x"]]) @ beta)
    adata = ad.AnnData(rng.poisson(mu).astype(float), obs=obs)
    sg.tl.negbin_fit(adata, "~ x", family="poisson")
    p = sg.get.negbin_params(adata)
    assert set(p) == {"beta"}
    assert "negbin_dispersion" not in adata.varm
    assert np.abs(p["beta"].to_numpy() - beta).max() < 0.1
    df = sg.get.negbin_df(adata, "x")
    assert ((df["estimate"] - beta[1]).abs() <= 3.5 * df["se"]).all()


def test_zinb_family_recovers_truth():
    rng = np.random.default_rng(3)
    n, g = 6_000, 12
    obs = pd.DataFrame({"x": rng.normal(size=n), "w": rng.normal(size=n)}, index=[f"c{i}" for i in range(n)])
    beta = np.vstack([rng.normal(1.5, 0.3, g), rng.normal(0, 0.4, g)])
    gamma = rng.normal(1.0, 0.3, g)
    zeta = np.vstack([rng.normal(-1.0, 0.3, g), rng.normal(0.8, 0.2, g)])
    mu = np.exp(np.column_stack([np.ones(n), obs["x"]]) @ beta)
    r = np.exp(gamma)[None, :]
    pi = 1 / (1 + np.exp(-(np.column_stack([np.ones(n), obs["w"]]) @ zeta)))
    y = rng.negative_binomial(r, r / (r + mu)) * (rng.random((n, g)) >= pi)
    adata = ad.AnnData(y.astype(float), obs=obs)
    sg.tl.negbin_fit(adata, {"mean": "~ x", "dispersion": "~ 1", "zero_inflation": "~ w"}, family="zinb")
    assert adata.var["negbin_converged"].all()
    p = sg.get.negbin_params(adata)
    assert np.abs(p["beta"].to_numpy() - beta).mean() < 0.05
    assert np.abs(p["gamma"].to_numpy()[0] - gamma).mean() < 0.15
    assert np.abs(p["zeta"].to_numpy() - zeta).mean() < 0.15
    # the ZINB fit beats an NB fit of the same data in log-likelihood for every gene
    nb = sg.tl.negbin_fit(adata, {"mean": "~ x"}, key_added="nb", copy=True)
    assert (adata.var["negbin_loglik"] > nb.var["nb_loglik"] + 5).all()
    pred = sg.tl.negbin_predict(adata)
    assert set(pred) == {"mean", "dispersion", "zero_inflation"}
    assert np.abs(pred["zero_inflation"].to_numpy() - pi).mean() < 0.05
    sim = sg.tl.negbin_sample(adata, rng=0)
    np.testing.assert_allclose((sim.X == 0).mean(0), (y == 0).mean(0), atol=0.03)


def test_sparse_equals_dense_and_all_zero_flagged():
    dense = small_nb()
    sparse = small_nb(sparse=True)
    f = {"mean": "~ x + batch", "dispersion": "~ 1"}
    sg.tl.negbin_fit(dense, f, chunk_size=3)
    sg.tl.negbin_fit(sparse, f)
    np.testing.assert_allclose(sparse.varm["negbin_mean"], dense.varm["negbin_mean"], rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(sparse.varm["negbin_dispersion_se"], dense.varm["negbin_dispersion_se"], rtol=1e-6)
    assert list(dense.var["negbin_converged"]) == [True] * 7 + [False]
    assert np.isnan(dense.varm["negbin_mean"].loc["g7"]).all()
    assert list(dense.varm["negbin_mean"].columns) == ["Intercept", "x", "batch[T.b]", "batch[T.c]"]


@pytest.mark.parametrize("sparse_chunks", [False, True])
def test_dask_counts_read_block_by_block(sparse_chunks):
    # a dask matrix (AnnData backed out of core) gives the in-memory estimates, each of its chunks read once
    import dask.array as da

    dense = small_nb()
    f = {"mean": "~ x + batch", "dispersion": "~ 1"}
    ref = dense.copy()
    sg.tl.negbin_fit(ref, f)
    x = sp.csr_matrix(dense.X) if sparse_chunks else dense.X
    reads = []

    def record(block, block_info=None):
        reads.append(tuple(block_info[0]["array-location"][1]))
        return block

    base = da.from_array(x, chunks=(dense.n_obs, 2), asarray=False)
    lazy = base.map_blocks(record, dtype=dense.X.dtype, meta=base._meta)
    adata = ad.AnnData(lazy, obs=dense.obs.copy(), var=dense.var.copy())
    sg.tl.negbin_fit(adata, f, chunk_size=4)
    assert sorted(reads) == [(0, 2), (2, 4), (4, 6), (6, 8)]  # every gene read once: no whole-matrix pass
    for name in ("negbin_mean", "negbin_dispersion", "negbin_mean_se"):
        np.testing.assert_allclose(adata.varm[name], ref.varm[name], rtol=1e-7, atol=1e-9)
    assert list(adata.var["negbin_converged"]) == list(ref.var["negbin_converged"])
    assert adata.uns["negbin"]["params"]["sparse"] is sparse_chunks
    sim = sg.tl.negbin_sample(adata, rng=0, copula=True)
    assert sp.issparse(sim.X) is sparse_chunks
    assert sim.shape == adata.shape


@pytest.mark.parametrize("fmt", ["csr", "csc", "dense"])
def test_backed_h5ad_counts(tmp_path, fmt):
    # backed="r" AnnData: X an HDF5 dataset or a backed sparse dataset; same fit as in memory
    dense = small_nb()
    f = {"mean": "~ x + batch", "dispersion": "~ 1"}
    ref = dense.copy()
    sg.tl.negbin_fit(ref, f)
    x = np.asarray(dense.X)
    on_disk = ad.AnnData({"csr": sp.csr_matrix, "csc": sp.csc_matrix, "dense": np.asarray}[fmt](x), obs=dense.obs)
    on_disk.write_h5ad(tmp_path / "c.h5ad")
    backed = ad.read_h5ad(tmp_path / "c.h5ad", backed="r")
    sg.tl.negbin_fit(backed, f, chunk_size=3)
    np.testing.assert_allclose(backed.varm["negbin_mean"], ref.varm["negbin_mean"], rtol=1e-7, atol=1e-9)
    assert list(backed.var["negbin_converged"]) == list(ref.var["negbin_converged"])
    assert backed.uns["negbin"]["params"]["sparse"] is (fmt != "dense")
    assert sg.tl.negbin_sample(backed, rng=0, copula=True).shape == dense.shape
    with pytest.raises(ValueError, match="cannot copy a backed AnnData"):
        sg.tl.negbin_fit(backed, f, copy=True, key_added="again")
    assert "again" not in backed.uns


def test_cell_chunked_dask_read_by_gene_blocks(monkeypatch):
    # a dask matrix chunked by cells only is read about chunk_size genes at a time, never whole
    import dask.array as da

    from scgenome.tl._negbin import _api

    dense = small_nb()
    reads = []
    real = _api._read_columns

    def record(x, lo, hi, **kw):
        reads.append((lo, hi))
        return real(x, lo, hi, **kw)

    monkeypatch.setattr(_api, "_read_columns", record)
    adata = ad.AnnData(da.from_array(np.asarray(dense.X), chunks=(25, 8)), obs=dense.obs.copy())
    sg.tl.negbin_fit(adata, "~ x", chunk_size=3)
    assert reads == [(0, 3), (3, 6), (6, 8)]
    ref = dense.copy()
    sg.tl.negbin_fit(ref, "~ x")
    np.testing.assert_allclose(adata.varm["negbin_mean"], ref.varm["negbin_mean"], rtol=1e-7, atol=1e-9)


def test_array_like_counts_read_in_gene_slices():
    # an out-of-core array (HDF5 / zarr-like: shape, dtype, 2-D slicing) is read chunk_size genes at a time
    dense = small_nb()
    x = np.asarray(dense.X)
    reads = []

    class OnDisk:
        shape, dtype, ndim = x.shape, x.dtype, 2

        def __getitem__(self, key):
            reads.append(key[1])
            return x[key]

    from scgenome.tl._negbin._api import _gene_blocks

    got = list(_gene_blocks(OnDisk(), 3, what="counts"))
    assert reads == [slice(0, 3), slice(3, 6), slice(6, 8)]
    assert np.concatenate([idx for idx, _ in got]).tolist() == list(range(7))  # g7 has no counts
    np.testing.assert_array_equal(np.hstack([b for _, b in got]), x[:, :7])


def test_dask_counts_checked_before_anything_is_written():
    import dask.array as da

    dense = small_nb()
    bad = np.asarray(dense.X, dtype=float).copy()
    bad[5, 7] = -1.0  # in the last block
    adata = ad.AnnData(da.from_array(bad, chunks=(dense.n_obs, 2)), obs=dense.obs.copy(), var=dense.var.copy())
    before = (set(adata.var.columns), set(adata.varm), set(adata.uns), set(adata.obs.columns))
    with pytest.raises(ValueError, match="negative values"):
        sg.tl.negbin_fit(adata, "~ x", chunk_size=4)
    assert (set(adata.var.columns), set(adata.varm), set(adata.uns), set(adata.obs.columns)) == before


def test_matches_scipy_mle_and_layer():
    adata = small_nb(n=400, g=4, seed=5)
    adata.layers["counts"] = adata.X.copy()
    adata.X = np.log1p(adata.X)  # not counts: the layer must be used
    sg.tl.negbin_fit(adata, "~ x", layer="counts")
    y = adata.layers["counts"][:, 0]
    xm = np.column_stack([np.ones(adata.n_obs), adata.obs["x"]])

    def nll(theta):
        mu = np.exp(xm @ theta[:2])
        r = np.exp(theta[2])
        return -stats.nbinom.logpmf(y, r, r / (r + mu)).sum()

    from scipy.optimize import minimize

    ref = minimize(nll, np.zeros(3), method="Nelder-Mead", options={"xatol": 1e-9, "fatol": 1e-11, "maxiter": 20000})
    ours = np.r_[adata.varm["negbin_mean"].iloc[0].to_numpy(), adata.varm["negbin_dispersion"].iloc[0].to_numpy()]
    np.testing.assert_allclose(ours, ref.x, atol=1e-4)
    assert -ref.fun <= adata.var["negbin_loglik"].iloc[0] + 1e-8


def test_size_factors_offset():
    rng = np.random.default_rng(4)
    n = 4_000
    sf = np.exp(rng.normal(0, 0.5, n))
    obs = pd.DataFrame({"sf": sf}, index=[f"c{i}" for i in range(n)])
    y = rng.negative_binomial(2.0, 2.0 / (2.0 + 5.0 * sf[:, None]), size=(n, 5)).astype(float)
    adata = ad.AnnData(y, obs=obs)
    sg.tl.negbin_fit(adata, "~ 1", size_factors="sf")
    np.testing.assert_allclose(np.exp(adata.varm["negbin_mean"]["Intercept"]), 5.0, rtol=0.05)
    np.testing.assert_allclose(np.exp(adata.varm["negbin_dispersion"]["Intercept"]), 2.0, rtol=0.15)
    assert adata.uns["negbin"]["params"]["size_factors"] == "sf"
    same = sg.tl.negbin_fit(adata, "~ 1", size_factors=sf, copy=True)
    np.testing.assert_allclose(same.varm["negbin_mean"], adata.varm["negbin_mean"])
    pred = sg.tl.negbin_predict(adata)  # the fit's size-factor column is used when present
    np.testing.assert_allclose(pred["mean"].iloc[:, 0], np.exp(adata.varm["negbin_mean"].iloc[0, 0]) * sf)
    # an array of size factors is kept with the fit: the fitted cells' predictions and samples use it again
    np.testing.assert_allclose(same.obs["negbin_size_factors"], sf)
    assert not np.shares_memory(same.obs["negbin_size_factors"].to_numpy(), sf)
    # a subset of the fitted cells keeps its own size factors
    sub = same[:50].copy()
    np.testing.assert_allclose(sg.tl.negbin_predict(sub)["mean"].to_numpy(), pred["mean"].to_numpy()[:50])
    np.testing.assert_allclose(sg.tl.negbin_predict(same)["mean"].to_numpy(), pred["mean"].to_numpy())
    sim = sg.tl.negbin_sample(same, rng=0)
    assert np.corrcoef(np.asarray(sim.X).sum(1), sf)[0, 1] > 0.5
    # new cells without the fit's size factors: predicted at size factor 1, with a warning
    with caplog_warning() as records:
        new = sg.tl.negbin_predict(adata, pd.DataFrame(index=["a", "b"]))
    assert any("size factor 1" in r.getMessage() for r in records)
    np.testing.assert_allclose(new["mean"].iloc[:, 0], np.exp(adata.varm["negbin_mean"].iloc[0, 0]))
    with pytest.raises(ValueError, match="'nope' not found"):
        sg.tl.negbin_predict(adata, size_factors="nope")
    # "~ ." stands for the covariates, never for the size factors (an offset): the obs column or the stored array
    dot = sg.tl.negbin_fit(adata, "~ .", size_factors="sf", copy=True)
    assert list(dot.varm["negbin_mean"].columns) == ["Intercept"]
    sg.tl.negbin_fit(same, "~ .", size_factors=sf)  # a refit with obs["negbin_size_factors"] already there
    assert list(same.varm["negbin_mean"].columns) == ["Intercept", "sf"]


class caplog_warning:
    """Collect the package logger's records (a context manager independent of pytest's caplog)."""

    def __enter__(self):
        import logging

        self.records = []
        self.handler = logging.Handler()
        self.handler.emit = self.records.append
        logging.getLogger("scgenome").addHandler(self.handler)
        return self.records

    def __exit__(self, *exc):
        import logging

        logging.getLogger("scgenome").removeHandler(self.handler)


def test_stateful_transforms_and_integer_categories_predict_as_fitted(tmp_path):
    rng = np.random.default_rng(11)
    n = 800
    obs = pd.DataFrame({"t": rng.uniform(0, 3, n), "batch": rng.integers(0, 3, n)}, index=[f"c{i}" for i in range(n)])
    mu = np.exp(0.5 + np.sin(obs["t"].to_numpy()) + 0.4 * (obs["batch"].to_numpy() == 2))[:, None]
    adata = ad.AnnData(rng.negative_binomial(4.0, 4.0 / (4.0 + mu), size=(n, 4)).astype(float), obs=obs)
    sg.tl.negbin_fit(adata, {"mean": "~ bs(t, df=4) + C(batch)", "dispersion": "~ center(t)"})
    assert adata.uns["negbin"]["design"]["mean"]["variables"] == ["t", "batch"]
    assert adata.uns["negbin"]["design"]["dispersion"]["variables"] == ["t"]
    full = sg.tl.negbin_predict(adata)
    # the spline recovers the non-linear truth
    np.testing.assert_allclose(full["mean"].iloc[:, 0] / mu[:, 0], 1.0, atol=0.15)
    # two cells alone: the knots, the centre and the batch levels are the fit's, not theirs
    sub = adata.obs.iloc[[3, 10]]
    sub = sub.assign(batch=[2, 2])
    sg_full = sg.tl.negbin_predict(adata, adata.obs.assign(batch=2))
    part = sg.tl.negbin_predict(adata, sub)
    for k in ("mean", "dispersion"):
        np.testing.assert_allclose(part[k].to_numpy(), sg_full[k].loc[sub.index].to_numpy(), rtol=1e-10)
    adata.write_h5ad(tmp_path / "bs.h5ad")
    back = ad.read_h5ad(tmp_path / "bs.h5ad")
    np.testing.assert_allclose(sg.tl.negbin_predict(back, sub)["mean"].to_numpy(), part["mean"].to_numpy())
    with pytest.raises(ValueError, match="did not see"):
        sg.tl.negbin_predict(adata, sub.assign(batch=[7, 2]))


def test_bad_options_and_messages():
    adata = small_nb(n=200, g=3)
    with pytest.raises(ValueError, match="chunk_size"):
        sg.tl.negbin_fit(adata, "~ x", chunk_size=0)
    with pytest.raises(ValueError, match="device"):
        sg.tl.negbin_fit(adata, "~ x", device="tpu")
    assert "negbin" not in adata.uns
    noisy = adata.copy()
    noisy.X = noisy.X + 1e-6
    with pytest.raises(ValueError, match=r"up to 1e-06 from an integer"):
        sg.tl.negbin_fit(noisy, "~ x")
    adata.var["gene_ids"] = [f"ENSG{i}" for i in range(adata.n_vars)]
    sg.tl.negbin_fit(adata, "~ x")
    sim = sg.tl.negbin_sample(adata, rng=0)
    assert list(sim.var["gene_ids"]) == list(adata.var["gene_ids"])


def test_warnings_reach_stderr_without_logging_setup(monkeypatch, capsys):
    import logging

    from scgenome._logging import logger

    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    logger.warning("a warning for the user")
    assert "scgenome WARNING: a warning for the user" in capsys.readouterr().err
    # once the application configures logging, the records go there alone
    app = logging.Handler()
    app.emit = lambda record: None
    monkeypatch.setattr(logging.getLogger(), "handlers", [app])
    logger.warning("not twice")
    assert "not twice" not in capsys.readouterr().err


def test_predict_after_h5ad_round_trip(tmp_path):
    adata = small_nb(sparse=True)
    sg.tl.negbin_fit(adata, {"mean": "~ x * batch", "dispersion": "~ batch"})
    new = pd.DataFrame(
        {"x": [0.0, 1.0, -1.0], "batch": pd.Categorical(["c", "a", "c"])}, index=["n1", "n2", "n3"]
    )  # levels absent ("b") must not matter
    before = sg.tl.negbin_predict(adata, new)
    adata.write_h5ad(tmp_path / "fit.h5ad")
    back = ad.read_h5ad(tmp_path / "fit.h5ad")
    after = sg.tl.negbin_predict(back, new)
    pd.testing.assert_frame_equal(before["mean"], after["mean"])
    pd.testing.assert_frame_equal(before["dispersion"], after["dispersion"])
    beta = adata.varm["negbin_mean"].loc["g0"]
    expect = np.exp(beta["Intercept"] + beta["x"] * 1.0)  # second row: batch a (reference), x = 1
    assert after["mean"].loc["n2", "g0"] == pytest.approx(expect, rel=1e-12)
    assert list(back.uns["negbin"]["terms"]["mean"]) == list(adata.varm["negbin_mean"].columns)
    with pytest.raises(ValueError, match="level"):
        sg.tl.negbin_predict(back, pd.DataFrame({"x": [0.0], "batch": ["zzz"]}))
    with pytest.raises(ValueError, match=r"\['batch'\].*missing"):
        sg.tl.negbin_predict(back, pd.DataFrame({"x": [0.0]}))


def test_dot_formula_round_trip(tmp_path):
    adata = small_nb(n=300, g=3)
    sg.tl.negbin_fit(adata, {"mean": "~ .", "dispersion": "~ 1"})
    assert list(adata.varm["negbin_mean"].columns) == ["Intercept", "x", "batch[T.b]", "batch[T.c]"]
    adata.write_h5ad(tmp_path / "dot.h5ad")
    back = ad.read_h5ad(tmp_path / "dot.h5ad")
    pd.testing.assert_frame_equal(sg.tl.negbin_predict(back)["mean"], sg.tl.negbin_predict(adata)["mean"])


@pytest.mark.parametrize(
    ("mutate", "kwargs", "match"),
    [
        (lambda a: a.X.__setitem__((0, 0), -1), {}, "negative"),
        (lambda a: a.X.__setitem__((0, 0), 0.5), {}, "non-integer"),
        (lambda a: setattr(a, "obs", a.obs.assign(x=a.obs["x"].where(np.arange(a.n_obs) != 3))), {}, "missing values"),
        (None, {"formulas": "~ x + nope"}, "nope"),
        (None, {"formulas": {"mean": "~ x", "dispersion": "~ x + I(2 * x)"}}, "rank deficient"),
        (None, {"formulas": {"mean": "~ x", "zero_inflation": "~ 1"}}, "zinb"),
        (None, {"family": "gamma"}, "family"),
        (None, {"size_factors": "nothere"}, "nothere"),
        (None, {"layer": "nothere"}, "nothere"),
    ],
)
def test_errors_leave_input_unchanged(mutate, kwargs, match):
    adata = small_nb(n=200, g=4)
    if mutate is not None:
        mutate(adata)
    before = adata.copy()
    kwargs = {"formulas": "~ x", **kwargs}
    formulas = kwargs.pop("formulas")
    with pytest.raises(ValueError, match=match):
        sg.tl.negbin_fit(adata, formulas, **kwargs)
    assert list(adata.varm) == list(before.varm) == []
    assert list(adata.var.columns) == list(before.var.columns)
    assert "negbin" not in adata.uns
    np.testing.assert_array_equal(adata.X, before.X)


def test_empty_anndata_error():
    with pytest.raises(ValueError, match="empty"):
        sg.tl.negbin_fit(ad.AnnData(np.zeros((0, 3))), "~ 1")


def test_copy_semantics():
    adata = small_nb(n=200, g=3)
    out = sg.tl.negbin_fit(adata, "~ x", copy=True, key_added="m1")
    assert out is not adata
    assert "m1_mean" in out.varm
    assert "m1_mean" not in adata.varm
    assert "m1" not in adata.uns
    assert sg.tl.negbin_fit(adata, "~ x", key_added="m1") is None
    assert {"m1_mean", "m1_mean_se", "m1_dispersion", "m1_dispersion_se"} <= set(adata.varm)
    assert {"m1_converged", "m1_loglik", "m1_n_iter"} <= set(adata.var.columns)
    with pytest.raises(ValueError, match="negbin_fit"):
        sg.tl.negbin_predict(adata, key="negbin")


def test_sample_rng_reproducible_and_sparse():
    adata = small_nb(sparse=True)
    sg.tl.negbin_fit(adata, {"mean": "~ x + batch", "dispersion": "~ 1"})
    s1 = sg.tl.negbin_sample(adata, rng=7)
    s2 = sg.tl.negbin_sample(adata, rng=np.random.default_rng(7))
    s3 = sg.tl.negbin_sample(adata, rng=8)
    assert sp.issparse(s1.X)
    assert s1.X.format == "csr"
    assert np.issubdtype(s1.X.dtype, np.integer)
    assert (s1.X != s2.X).nnz == 0
    assert (s1.X != s3.X).nnz > 0
    assert s1.X[:, -1].nnz == 0  # the all-zero gene
    dense = small_nb()
    sg.tl.negbin_fit(dense, "~ x")
    assert isinstance(sg.tl.negbin_sample(dense, rng=0).X, np.ndarray)
    c1 = sg.tl.negbin_sample(adata, rng=3, copula=True)
    c2 = sg.tl.negbin_sample(adata, rng=3, copula=True)
    assert (c1.X != c2.X).nnz == 0
    new = pd.DataFrame({"x": np.zeros(50), "batch": pd.Categorical(["a"] * 50)}, index=[f"n{i}" for i in range(50)])
    assert sg.tl.negbin_sample(adata, new, rng=0).shape == (50, adata.n_vars)


def test_sample_reproduces_mean_and_variance_no_clipping():
    rng = np.random.default_rng(6)
    n, g = 20_000, 6
    mu_true = np.array([0.5, 5.0, 50.0, 500.0, 5_000.0, 50_000.0])
    r_true = np.array([0.5, 1.0, 2.0, 5.0, 10.0, 20.0])
    y = rng.negative_binomial(r_true, r_true / (r_true + mu_true), size=(n, g)).astype(float)
    adata = ad.AnnData(y)
    sg.tl.negbin_fit(adata, "~ 1")
    sim = sg.tl.negbin_sample(adata, rng=1).X
    np.testing.assert_allclose(sim.mean(0), y.mean(0), rtol=0.05)
    np.testing.assert_allclose(sim.var(0), y.var(0), rtol=0.1)
    assert sim.max() > 50_000  # the mean is not clipped


def test_copula_recovers_correlation():
    rng = np.random.default_rng(9)
    n, g = 3_000, 4
    cov = np.full((g, g), 0.6) + 0.4 * np.eye(g)
    z = rng.multivariate_normal(np.zeros(g), cov, size=n)
    u = stats.norm.cdf(z)
    y = stats.nbinom.ppf(u, 3.0, 3.0 / (3.0 + 10.0)).astype(float)
    adata = ad.AnnData(y)
    sg.tl.negbin_fit(adata, "~ 1")
    ind = sg.tl.negbin_sample(adata, rng=0).X
    cop = sg.tl.negbin_sample(adata, rng=0, copula=True)
    c_obs = np.corrcoef(y.T)[np.triu_indices(g, 1)]
    c_cop = np.corrcoef(cop.X.T)[np.triu_indices(g, 1)]
    c_ind = np.corrcoef(ind.T)[np.triu_indices(g, 1)]
    assert np.abs(c_cop - c_obs).max() < 0.06
    assert np.abs(c_ind).max() < 0.06
    assert cop.uns["negbin_copula"]["shrinkage"] < 0.05
    np.testing.assert_allclose(cop.X.mean(0), y.mean(0), rtol=0.05)


def test_ledoit_wolf_matches_sklearn():
    from sklearn.covariance import ledoit_wolf_shrinkage as sk

    rng = np.random.default_rng(0)
    z = rng.normal(size=(40, 100)) + rng.normal(size=(40, 1))
    z = (z - z.mean(0)) / z.std(0)
    assert ledoit_wolf_shrinkage(z) == pytest.approx(sk(z, assume_centered=True), rel=1e-8)


def test_negbin_df_and_params_orientation():
    adata = small_nb()
    sg.tl.negbin_fit(adata, {"mean": "~ x + batch", "dispersion": "~ 1"})
    p = sg.get.negbin_params(adata)
    assert p["beta"].shape == (4, adata.n_vars)
    assert list(p["beta"].columns) == list(adata.var_names)
    df = sg.get.negbin_df(adata, "x")
    np.testing.assert_allclose(df["z"], df["estimate"] / df["se"])
    np.testing.assert_allclose(df["pval"], 2 * stats.norm.sf(np.abs(df["z"])))
    assert df["pval"].isna().sum() == 1  # the all-zero gene
    with pytest.raises(ValueError, match="not in the mean design"):
        sg.get.negbin_df(adata, "nope")
    disp = sg.get.negbin_df(adata, "Intercept", which="dispersion")
    assert np.isfinite(disp["se"].iloc[:-1]).all()


@pytest.mark.realdata
def test_pbmc_small_categorical_and_rank_deficiency(data_path):
    adata = ad.read_h5ad(data_path("pbmc_small") / "pbmc_small.h5ad")
    before = adata.copy()
    with pytest.raises(ValueError, match=r"rank deficient.*RNA_snn_res\.0\.8.*letter\.idents"):
        sg.tl.negbin_fit(adata, {"mean": "~ .", "dispersion": "~ 1"})
    assert list(adata.varm) == []
    assert list(adata.var.columns) == list(before.var.columns)
    sg.tl.negbin_fit(adata, {"mean": "~ groups + `RNA_snn_res.1`", "dispersion": "~ 1"}, size_factors="nCount_RNA")
    expressed = np.asarray(adata.X.sum(0)).ravel() > 0
    assert adata.var["negbin_converged"][expressed].all()
    assert list(adata.varm["negbin_mean"].columns) == [
        "Intercept",
        "groups[T.g2]",
        "RNA_snn_res.1[T.1]",
        "RNA_snn_res.1[T.2]",
    ]
    # the NB score equations hold per cluster, checked independently in numpy from the predictions
    pred = sg.tl.negbin_predict(adata)
    mu, r = pred["mean"].to_numpy(), pred["dispersion"].to_numpy()
    y = adata.X.toarray()
    score = r * (y - mu) / (r + mu)
    for level in ["0", "1", "2"]:
        cells = (adata.obs["RNA_snn_res.1"] == level).to_numpy()
        scale = (r * y / (r + mu))[cells].sum(0) + 1
        assert np.all(np.abs(score[cells].sum(0)) / scale < 1e-4)


@pytest.mark.realdata
def test_pbmc3k_converges_and_sample_matches(data_path):
    adata = ad.read_h5ad(data_path("pbmc3k") / "pbmc3k_top100.h5ad")
    sg.tl.negbin_fit(
        adata, {"mean": "~ log_total_counts", "dispersion": "~ 1"}, size_factors="sizeFactor", layer="counts"
    )
    expressed = np.asarray(adata.layers["counts"].sum(0)).ravel() > 0
    assert adata.var["negbin_converged"][expressed].all()
    assert (adata.var["negbin_n_iter"] < 40).all()
    sim = sg.tl.negbin_sample(adata, rng=0)
    y = adata.layers["counts"].toarray()
    s = sim.X.toarray()
    rel_mean = np.abs(s.mean(0) - y.mean(0)) / y.mean(0)
    rel_var = np.abs(s.var(0) - y.var(0)) / y.var(0)
    assert np.median(rel_mean) < 0.03
    assert np.median(rel_var) < 0.2  # measured 0.13-0.15: a one-size NB is only approximately right on real data
    assert np.corrcoef(np.log(s.var(0)), np.log(y.var(0)))[0, 1] > 0.95  # measured 0.98


def test_demo_step(tmp_path):
    from scgenome.tl._negbin._demo import step

    lines = step(tmp_path, np.random.default_rng(0))
    assert "60 converged" in lines[0]
    assert (tmp_path / "negbin.png").stat().st_size > 1000
    table = pd.read_csv(tmp_path / "negbin_x_wald.csv", index_col=0)
    assert table.shape[0] == 60
    assert np.abs(table["estimate"] - table["true"]).mean() < 0.05


@pytest.mark.parametrize(
    ("formulas", "family", "size_factors"),
    [
        (SEED_FORMULAS, "nb", None),
        ({"mean": "~ mean_dim0 + mean_dim1", "dispersion": "~ 1"}, "nb", "sf"),
        ("~ mean_dim0 + mean_dim1", "poisson", None),
    ],
)
def test_fused_kernel_matches_torch_path(monkeypatch, formulas, family, size_factors):
    """The CPU numba kernel and the elementwise torch path (used on GPUs) reach the same fit."""
    from scgenome.tl._negbin import _fit

    adata, _, _, _, _ = seed_experiment(2_000, g=12)
    adata.obs["sf"] = np.random.default_rng(3).uniform(0.5, 2.0, adata.n_obs)
    adata.X[:, 3] *= 40  # large counts: the gamma-function branches of the kernel
    fits = []
    for fused in (True, False):
        monkeypatch.setattr(_fit, "USE_FUSED", fused)
        fitted = sg.tl.negbin_fit(adata, formulas, family=family, size_factors=size_factors, copy=True)
        fits.append(fitted)
    a, b = fits
    assert a.var["negbin_converged"].all()
    assert b.var["negbin_converged"].all()
    np.testing.assert_allclose(a.var["negbin_loglik"], b.var["negbin_loglik"], rtol=1e-9)
    for key in ("negbin_mean", "negbin_mean_se"):
        np.testing.assert_allclose(a.varm[key].to_numpy(), b.varm[key].to_numpy(), rtol=1e-5, atol=1e-6)
    if family == "nb":
        for key in ("negbin_dispersion", "negbin_dispersion_se"):
            np.testing.assert_allclose(a.varm[key].to_numpy(), b.varm[key].to_numpy(), rtol=1e-4, atol=1e-4)


def test_datetime_levels_in_a_formula_round_trip(tmp_path):
    rng = np.random.default_rng(2)
    n = 300
    day = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 3, n), "D")
    obs = pd.DataFrame({"day": day}, index=[f"c{i}" for i in range(n)])
    adata = ad.AnnData(rng.poisson(4.0, size=(n, 3)).astype(float), obs=obs)
    sg.tl.negbin_fit(adata, "~ C(day)")  # the levels are timestamps: stored as ISO strings in the JSON state
    sub = adata.obs.iloc[[0, 1]]
    np.testing.assert_allclose(
        sg.tl.negbin_predict(adata, sub)["mean"].to_numpy(), sg.tl.negbin_predict(adata)["mean"].to_numpy()[:2]
    )
    # the fit itself (uns) survives h5ad (anndata cannot write a datetime obs column: drop it first)
    adata.obs = pd.DataFrame(index=adata.obs_names)
    adata.write_h5ad(tmp_path / "day.h5ad")
    back = ad.read_h5ad(tmp_path / "day.h5ad")
    np.testing.assert_allclose(
        sg.tl.negbin_predict(back, sub)["mean"].to_numpy(), sg.tl.negbin_predict(adata, sub)["mean"].to_numpy()
    )


def boundary_cases(n=600, seed=12):
    """Genes with known boundary behaviour: ok, underdispersed, separated (two ways), not separated, no counts."""
    rng = np.random.default_rng(seed)
    obs = pd.DataFrame(
        {"x": rng.normal(size=n), "g": pd.Categorical(rng.choice(["a", "b"], n))}, index=[f"c{i}" for i in range(n)]
    )
    b = (obs["g"] == "b").to_numpy()
    mu = np.exp(1.0 + 0.4 * obs["x"].to_numpy())
    y = np.zeros((n, 7))
    y[:, 0] = rng.negative_binomial(2.0, 2.0 / (2.0 + mu))  # overdispersed: ok
    y[:, 1] = rng.binomial(4, 0.5, n)  # underdispersed: the NB size goes to infinity
    y[:, 2] = np.where(b, rng.negative_binomial(2.0, 2.0 / (2.0 + mu)), 0)  # no counts in level a: separated
    y[7, 3] = 3  # a single cell with counts: three mean coefficients, separated (a two-dimensional null space)
    y[:, 4] = rng.negative_binomial(2.0, 2.0 / (2.0 + mu))
    y[b, 4] = 0  # separated too, by the other level
    y[:, 5] = rng.negative_binomial(2.0, 2.0 / (2.0 + mu))  # ok, with a few zeros
    adata = ad.AnnData(y, obs=obs)
    adata.var_names = ["nb", "under", "sep_a", "one_cell", "sep_b", "ok2", "zero"]
    return adata


def test_boundary_genes_flagged_with_one_log_line():
    adata = boundary_cases()
    with caplog_warning() as records:
        sg.tl.negbin_fit(adata, {"mean": "~ x + g", "dispersion": "~ 1"})
    status = adata.var["negbin_status"]
    assert list(status.cat.categories) == ["ok", "dispersion_at_bound", "separated", "not_converged", "no_counts"]
    assert list(status) == ["ok", "dispersion_at_bound", "separated", "separated", "separated", "ok", "no_counts"]
    assert list(adata.var["negbin_boundary"]) == [False, True, True, True, True, False, False]
    # the optimiser did converge on the boundary genes: "converged" alone does not say they are identified
    assert list(adata.var["negbin_converged"]) == [True] * 6 + [False]
    assert adata.uns["negbin"]["status"] == {
        "ok": 2,
        "dispersion_at_bound": 1,
        "separated": 3,
        "not_converged": 0,
        "no_counts": 1,
    }
    # one summary line with the counts, not one line per gene
    lines = [r.getMessage() for r in records if r.levelname == "WARNING"]
    assert len(lines) == 1
    assert "of 7 genes, 1 have no counts" in lines[0]
    assert "3 are separated" in lines[0]
    assert "1 have the NB size at its bound" in lines[0]
    # what the flags mean: the underdispersed gene's NB size is huge and its log-likelihood is the Poisson one
    r_under = np.exp(adata.varm["negbin_dispersion"].loc["under", "Intercept"])
    assert r_under >= 1e4
    mu_hat = sg.tl.negbin_predict(adata)["mean"]["under"].to_numpy()
    ll_pois = stats.poisson.logpmf(adata.X[:, 1], mu_hat).sum()
    assert ll_pois >= adata.var["negbin_loglik"]["under"] - 1e-3
    # the separated genes' level coefficient runs off toward minus / plus infinity, with a huge standard error
    beta, se = adata.varm["negbin_mean"], adata.varm["negbin_mean_se"]
    assert beta.loc["sep_a", "g[T.b]"] > 8
    assert beta.loc["sep_b", "g[T.b]"] < -8
    assert se.loc["sep_a", "g[T.b]"] > 100
    # the others are not flagged, and their estimates stay those of a clean fit
    assert np.abs(beta.loc["nb", "x"] - 0.4) < 0.1
    df = sg.get.negbin_df(adata, "x")
    assert list(df["status"]) == list(status)


def test_rank_deficient_counts_but_not_separated():
    # the cells with counts share one x value, the zero cells lie on both sides of it: the MLE is finite
    n = 300
    x = np.r_[np.ones(100), np.linspace(-2, 0.5, 100), np.linspace(1.5, 4, 100)]
    obs = pd.DataFrame({"x": x}, index=[f"c{i}" for i in range(n)])
    rng = np.random.default_rng(0)
    y = np.zeros((n, 2))
    y[:100, 0] = rng.poisson(5.0, 100) + 1
    y[:, 1] = rng.poisson(np.exp(0.5 + 0.3 * x))
    adata = ad.AnnData(y, obs=obs)
    sg.tl.negbin_fit(adata, {"mean": "~ x"}, family="poisson")
    assert list(adata.var["negbin_status"]) == ["ok", "ok"]
    assert not adata.var["negbin_boundary"].any()
    # and the fit is the finite maximum: a bump at x = 1 is not a log-linear trend, the means fall off on both sides
    assert np.isfinite(adata.varm["negbin_mean_se"].to_numpy()).all()


def test_single_cell_dispersion_not_identified():
    adata = ad.AnnData(np.array([[0.0, 1.0, 5.0]]), obs=pd.DataFrame(index=["only"]))
    with caplog_warning() as records:
        sg.tl.negbin_fit(adata, "~ 1")
    assert list(adata.var["negbin_status"]) == ["no_counts", "dispersion_at_bound", "dispersion_at_bound"]
    assert list(adata.var["negbin_boundary"]) == [False, True, True]
    # the mean is the count itself (the Poisson limit), identified; the NB size is not
    np.testing.assert_allclose(np.exp(adata.varm["negbin_mean"]["Intercept"].to_numpy()[1:]), [1.0, 5.0], rtol=1e-4)
    assert (np.exp(adata.varm["negbin_dispersion"]["Intercept"].to_numpy()[1:]) >= 1e4).all()
    assert sum("2 have the NB size at its bound" in r.getMessage() for r in records) == 1


@pytest.mark.realdata
def test_pbmc3k_genes_at_the_dispersion_bound(data_path):
    # low-count genes of the raw pbmc3k matrix: no overdispersion to see, flagged; the top genes are not
    raw = ad.read_h5ad(data_path("pbmc3k") / "pbmc3k_raw.h5ad")
    total = np.asarray(raw.X.sum(0)).ravel()
    rng = np.random.default_rng(0)
    low = rng.choice(np.flatnonzero((total >= 2) & (total <= 40)), 300, replace=False)
    top = np.argsort(total)[-50:]
    adata = raw[:, np.sort(np.r_[low, top])].copy()
    with caplog_warning() as records:
        sg.tl.negbin_fit(adata, {"mean": "~ log_total_counts", "dispersion": "~ 1"}, size_factors="sizeFactor")
    status = adata.var["negbin_status"].astype(str)
    r = np.exp(adata.varm["negbin_dispersion"]["Intercept"])
    at_bound = status == "dispersion_at_bound"
    assert 50 <= at_bound.sum() <= 300
    assert (r[at_bound] >= 1e4).all()
    assert (r[status == "ok"] < 1e4).all()
    assert (status[adata.var_names[np.isin(np.sort(np.r_[low, top]), top)]] == "ok").all()
    # the genes left at the start's bound after 0 iterations are all among them (the issue's 1,818 of pbmc3k)
    start = (adata.var["negbin_n_iter"] == 0) & np.isclose(r, 1e4)
    assert start.sum() > 0
    assert at_bound[start].all()
    # flagged genes fit no better than Poisson with the same means (their NB size is not identified)
    pred = sg.tl.negbin_predict(adata)["mean"].to_numpy()
    y = adata.X.toarray()
    ll_pois = stats.poisson.logpmf(y, pred).sum(0)
    gain = adata.var["negbin_loglik"].to_numpy() - ll_pois
    assert (gain[at_bound.to_numpy()] < 0.05).all()
    assert sum("have the NB size at its bound" in rec.getMessage() for rec in records) == 1


def test_predict_and_sample_refuse_overflowing_covariates():
    adata = small_nb(n=300, g=4)
    sg.tl.negbin_fit(adata, {"mean": "~ x", "dispersion": "~ x"})
    before = adata.copy()
    beta = adata.varm["negbin_mean"]["x"].to_numpy()
    far = 1e4 / np.abs(beta[:3]).min()  # |beta x| > 1e4: exp overflows for every fitted gene on one side
    new = pd.DataFrame({"x": [0.0, far, -far]}, index=["near", "far", "minus"])
    with pytest.raises(ValueError, match=r"predicted (mean|NB size) of 1 cell\(s\).*'x' in \[.*fitted cells: \[") as e:
        sg.tl.negbin_predict(adata, new)
    assert "float64 range" in str(e.value)
    assert "within (or near) the covariates' fitted range" in str(e.value)
    with pytest.raises(ValueError, match="float64 range"):
        sg.tl.negbin_sample(adata, new, rng=0)
    # input unchanged, and the cells in range still predict (finite, no numpy overflow warning)
    assert set(adata.uns) == set(before.uns)
    assert list(adata.var.columns) == list(before.var.columns)
    ok = sg.tl.negbin_predict(adata, new.iloc[:1])
    assert np.isfinite(ok["mean"].to_numpy()[:, :3]).all()  # g3 has no counts: NaN
    # an extreme size factor is named too
    with pytest.raises(ValueError, match="or the size factors"):
        sg.tl.negbin_predict(adata, new.iloc[:1], size_factors=np.array([1e308]))


def test_zinb_predict_extreme_zero_inflation_without_overflow_warning():
    rng = np.random.default_rng(4)
    n = 800
    obs = pd.DataFrame({"w": rng.normal(size=n)}, index=[f"c{i}" for i in range(n)])
    pi = 1 / (1 + np.exp(-(-0.5 + 1.5 * obs["w"].to_numpy())))
    y = rng.negative_binomial(3, 3 / (3 + 4.0), size=(n, 2)) * (rng.random((n, 2)) >= pi[:, None])
    adata = ad.AnnData(y.astype(float), obs=obs)
    sg.tl.negbin_fit(adata, {"mean": "~ 1", "zero_inflation": "~ w"}, family="zinb")
    pred = sg.tl.negbin_predict(adata, pd.DataFrame({"w": [-1e5, 1e5]}))  # logistic saturates: 0 and 1
    np.testing.assert_allclose(pred["zero_inflation"].to_numpy(), [[0, 0], [1, 1]], atol=1e-300)


def test_expected_information_is_x_w_x_and_observed_the_hessian():
    adata = small_nb(n=500, g=5, seed=3)
    f = {"mean": "~ x + batch", "dispersion": "~ 1"}
    exp_fit = sg.tl.negbin_fit(adata, f, copy=True)
    obs_fit = sg.tl.negbin_fit(adata, f, information="observed", copy=True)
    assert exp_fit.uns["negbin"]["params"]["information"] == "expected"  # the default for "nb"
    assert obs_fit.uns["negbin"]["params"]["information"] == "observed"
    np.testing.assert_allclose(exp_fit.varm["negbin_mean"], obs_fit.varm["negbin_mean"])  # same MLE
    pred = sg.tl.negbin_predict(exp_fit)
    xm = np.column_stack(
        [np.ones(adata.n_obs), adata.obs["x"], adata.obs["batch"] == "b", adata.obs["batch"] == "c"]
    ).astype(float)
    y = adata.X
    for j in range(4):  # g4 is the all-zero gene
        mu, r = pred["mean"].iloc[:, j].to_numpy(), pred["dispersion"].iloc[:, j].to_numpy()
        w = mu / (1 + mu / r)
        se = np.sqrt(np.diag(np.linalg.inv(xm.T @ (w[:, None] * xm))))
        np.testing.assert_allclose(exp_fit.varm["negbin_mean_se"].iloc[j], se, rtol=1e-8)
        # the dispersion block alone (the mean fixed): the observed information of log r, by finite differences
        theta, yj = np.log(r[0]), y[:, j]

        def ll(t, yj=yj, mu=mu):
            rr = np.exp(t)
            return stats.nbinom.logpmf(yj, rr, rr / (rr + mu)).sum()

        h = 1e-4
        info = -(ll(theta + h) - 2 * ll(theta) + ll(theta - h)) / h**2
        se_disp = exp_fit.varm["negbin_dispersion_se"].iloc[j, 0]
        assert se_disp == pytest.approx(1 / np.sqrt(info), rel=1e-4)
        # observed: the joint Hessian carries the dispersion's uncertainty: different, same order
        ratio = obs_fit.varm["negbin_mean_se"].iloc[j].to_numpy() / se
        assert np.all((ratio > 0.8) & (ratio < 1.25))
        assert np.abs(ratio - 1).max() > 1e-6
    # Poisson: expected and observed informations are the same (canonical link)
    pe = sg.tl.negbin_fit(adata, "~ x", family="poisson", copy=True)
    po = sg.tl.negbin_fit(adata, "~ x", family="poisson", information="observed", copy=True)
    np.testing.assert_allclose(pe.varm["negbin_mean_se"], po.varm["negbin_mean_se"], rtol=1e-10)


def test_information_option_checked():
    adata = small_nb(n=200, g=3)
    with pytest.raises(ValueError, match="information must be"):
        sg.tl.negbin_fit(adata, "~ x", information="fisher")
    with pytest.raises(ValueError, match=r"information='expected' is not available for family='zinb'"):
        sg.tl.negbin_fit(adata, "~ x", family="zinb", information="expected")
    assert "negbin" not in adata.uns
    assert list(adata.varm) == []
    sg.tl.negbin_fit(adata, "~ x", family="zinb", max_iter=5)
    assert adata.uns["negbin"]["params"]["information"] == "observed"  # zinb's only (and default) choice


MASS_SCRIPT = Path(__file__).parents[1] / "benchmarks" / "mass_glm_nb.R"  # shared with the benchmark


def run_mass(y: np.ndarray, cov: np.ndarray, off: np.ndarray, tmp_path) -> pd.DataFrame:
    """MASS::glm.nb(y ~ cov + offset(off)) per column of ``y``: coefficients, summary SEs, theta, SE.theta."""
    import shutil
    import subprocess

    rscript = shutil.which("Rscript")
    if rscript is None or subprocess.run([rscript, "-e", "library(MASS)"], capture_output=True).returncode != 0:
        pytest.skip("Rscript with MASS not installed (Debian: r-base-core r-cran-mass)")
    frame = pd.DataFrame({"cov": cov, "off": off} | {f"gene_{j}": y[:, j] for j in range(y.shape[1])})
    frame.to_csv(tmp_path / "in.csv", index=False, float_format="%.17g")
    subprocess.run([rscript, str(MASS_SCRIPT), str(tmp_path / "in.csv"), str(tmp_path / "out.csv")], check=True)
    return pd.read_csv(tmp_path / "out.csv")


@pytest.mark.realdata
def test_expected_se_match_mass_glm_nb_on_pbmc3k(data_path, tmp_path):
    # same model: intercept + pct_counts_mt, offset log(sizeFactor); MASS's summary SEs are its IRLS weights'
    adata = ad.read_h5ad(data_path("pbmc3k") / "pbmc3k_top100.h5ad")[:, ::5].copy()  # 20 genes
    sg.tl.negbin_fit(adata, {"mean": "~ pct_counts_mt", "dispersion": "~ 1"}, size_factors="sizeFactor", layer="counts")
    assert (adata.var["negbin_status"] == "ok").all()
    y = adata.layers["counts"].toarray()
    mass = run_mass(y, adata.obs["pct_counts_mt"].to_numpy(), np.log(adata.obs["sizeFactor"].to_numpy()), tmp_path)
    beta, se = adata.varm["negbin_mean"].to_numpy(), adata.varm["negbin_mean_se"].to_numpy()
    r = np.exp(adata.varm["negbin_dispersion"]["Intercept"].to_numpy())
    # the same MLE first
    np.testing.assert_allclose(beta, mass[["b0", "b1"]].to_numpy(), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(r, mass["theta"], rtol=1e-5)
    # then the expected-information SEs within 1e-4 relative (measured: about 1e-7)
    np.testing.assert_allclose(se, mass[["se0", "se1"]].to_numpy(), rtol=1e-4)
    # and the dispersion's: SE(log theta) = SE.theta / theta, from MASS's information at its final estimates;
    # its reported SE.theta is that of the previous theta iterate (measured: up to 2.3e-4 apart)
    se_disp = adata.varm["negbin_dispersion_se"]["Intercept"].to_numpy()
    np.testing.assert_allclose(se_disp, mass["se_theta_final"] / r, rtol=1e-4)
    np.testing.assert_allclose(se_disp, mass["se_theta"] / r, rtol=2e-3)
    # the observed information gives other SEs, that MASS does not report
    obs = sg.tl.negbin_fit(
        adata,
        {"mean": "~ pct_counts_mt", "dispersion": "~ 1"},
        size_factors="sizeFactor",
        layer="counts",
        information="observed",
        copy=True,
    )
    assert np.abs(obs.varm["negbin_mean_se"].to_numpy() / mass[["se0", "se1"]].to_numpy() - 1).max() > 1e-3
