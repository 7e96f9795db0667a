from __future__ import annotations

import matplotlib as mpl

mpl.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from anndata import AnnData
from figcheck import check_figure

import scgenome as sg


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def tidy():
    """A GEMMA-like tidy table: chromosomes in file order 1, 2, 10, X; some positions unknown (-9)."""
    rng = np.random.default_rng(0)
    chrs = np.repeat(["1", "2", "10", "X"], [50, 40, 30, 20])
    ps = np.concatenate([np.arange(1, k + 1) * 10_000 for k in (50, 40, 30, 20)]).astype(np.int64)
    ps[[5, 60]] = -9
    p = rng.uniform(size=140)
    p[10] = 1e-12
    p[70] = 1e-9
    p[100] = 3e-7
    return pd.DataFrame({"chr": chrs, "rs": [f"rs{i}" for i in range(140)], "ps": ps, "p_wald": p})


@pytest.fixture
def gdata():
    """An AnnData shaped like the output of tl.gwas (var gwas_pval filled by hand, some untested SNPs)."""
    rng = np.random.default_rng(1)
    n_snps = 300
    var = pd.DataFrame(
        {
            "chrom": np.repeat(["1", "2", "3"], 100),
            "pos": pd.array(np.tile(np.arange(1, 101) * 5000, 3), dtype="Int64"),
            "cm": np.tile(np.linspace(0, 50, 100), 3),
        },
        index=[f"snp{i:03d}" for i in range(n_snps)],
    )
    var.loc[var.index[[3, 150]], "pos"] = pd.NA
    p = rng.uniform(size=n_snps)
    p[[20, 21]] = [1e-10, 1e-9]
    p[[7, 8, 9]] = np.nan  # did not pass QC
    var["gwas_pval"] = p
    var["gwas_p_lrt"] = np.clip(p * 2, 0, 1)
    return AnnData(X=np.zeros((5, n_snps), dtype=np.float32), var=var)


def _collection(ax, gid):
    found = [c for c in ax.collections if c.get_gid() == gid]
    assert len(found) == 1, [c.get_gid() for c in ax.collections]
    return found[0]


def _hlines(ax):
    return sorted(
        round(float(line.get_ydata()[0]), 6)
        for line in ax.get_lines()
        if len(set(line.get_ydata())) == 1 and tuple(line.get_xdata()) == (0, 1)
    )


def test_manhattan_tidy_points_lines_labels(tidy, tmp_path):
    ax = sg.pl.manhattan(tidy, show=False)
    pts = _collection(ax, "gwas").get_offsets()
    assert len(pts) == 140
    np.testing.assert_allclose(np.sort(pts[:, 1]), np.sort(-np.log10(tidy["p_wald"].to_numpy())))
    assert _hlines(ax) == [5.0, round(-np.log10(5e-8), 6)]
    # natural chromosome order, labels at chromosome centres
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "10", "X"]
    x = pts[:, 0]
    chrs = tidy["chr"].to_numpy()
    for tick, c in zip(ax.get_xticks(), ["1", "2", "10", "X"], strict=True):
        xc = x[chrs == c]
        assert xc.min() < tick < xc.max()
        assert tick == pytest.approx((xc.min() + xc.max()) / 2, rel=1e-9)
    # chromosomes do not overlap and follow each other
    assert x[chrs == "1"].max() < x[chrs == "2"].min() < x[chrs == "2"].max() < x[chrs == "10"].min()
    # two alternating colours
    colours = _collection(ax, "gwas").get_facecolors()
    first = {c: tuple(colours[np.flatnonzero(chrs == c)[0]]) for c in ["1", "2", "10", "X"]}
    assert first["1"] == first["10"] != first["2"] == first["X"]
    assert not _collection(ax, "gwas").get_rasterized()
    ax.figure.savefig(tmp_path / "m.png", dpi=60)
    assert (tmp_path / "m.png").stat().st_size > 1000


def test_manhattan_unknown_positions_in_file_order(tidy):
    ax = sg.pl.manhattan(tidy, show=False)
    x = _collection(ax, "gwas").get_offsets()[:, 0]
    # rs5 (ps -9) lies between its file neighbours rs4 and rs6; rs60 likewise on chr 2
    assert x[4] < x[5] < x[6]
    assert x[59] < x[60] < x[61]


def test_manhattan_anndata_by_cm_and_untested_dropped(gdata):
    fig = sg.pl.manhattan(gdata, return_fig=True, genomewide_line=1e-8, suggestive_line=None)
    ax = fig.axes[0]
    pts = _collection(ax, "gwas").get_offsets()
    assert len(pts) == 297  # 3 untested SNPs are left out
    assert _hlines(ax) == [8.0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "3"]
    # snp003 has no position but a cM: placed by the genetic map between snp002 and snp004
    names = [n for n in gdata.var_names if n not in {"snp007", "snp008", "snp009"}]
    x = dict(zip(names, pts[:, 0], strict=True))
    assert x["snp002"] < x["snp003"] < x["snp004"]
    assert x["snp149"] < x["snp150"] < x["snp151"]
    ax_lrt = sg.pl.manhattan(gdata, pval="p_lrt", show=False)
    y = _collection(ax_lrt, "gwas").get_offsets()[:, 1]
    np.testing.assert_allclose(y.max(), -np.log10(2e-10))


def test_manhattan_mirrored_other_highlight_annotate(tidy, gdata):
    synth = tidy.copy()
    synth["p_wald"] = np.random.default_rng(5).uniform(size=len(synth))
    ax = sg.pl.manhattan(
        tidy, other=synth, highlight=["rs10", "rs3"], annotate_top=3, label="real", other_label="synthetic", show=False
    )
    main = _collection(ax, "gwas").get_offsets()
    mirrored = _collection(ax, "gwas_other").get_offsets()
    assert len(main) == len(mirrored) == 140
    assert (mirrored[:, 1] <= 0).all()
    assert (mirrored[:, 1] < 0).any()
    np.testing.assert_allclose(mirrored[:, 0], main[:, 0])  # same x layout
    # threshold lines on both sides
    gw = round(-np.log10(5e-8), 6)
    assert _hlines(ax) == [-gw, -5.0, 0.0, 5.0, gw]  # 0.0 is the axis between the two halves
    hl = _collection(ax, "highlight").get_offsets()
    assert len(hl) == 2
    np.testing.assert_allclose(sorted(hl[:, 1]), sorted(-np.log10(tidy["p_wald"].to_numpy()[[3, 10]])))
    annotations = [t.get_text() for t in ax.texts if t.get_text().startswith("rs")]
    assert annotations[:3] == ["rs10", "rs70", "rs100"]
    assert len(annotations) == 6  # 3 above, 3 below
    assert {"real", "synthetic"} <= {t.get_text() for t in ax.texts}
    # y tick labels show -log10 p without sign below the axis
    ax.figure.canvas.draw()
    assert all(not t.get_text().startswith(("-", "\u2212")) for t in ax.get_yticklabels())


def test_manhattan_rasterizes_large(tmp_path):
    rng = np.random.default_rng(0)
    n = 120_000
    df = pd.DataFrame(
        {"chrom": np.repeat(["1", "2"], n // 2), "pos": np.tile(np.arange(n // 2), 2), "pval": rng.uniform(size=n)}
    )
    ax = sg.pl.manhattan(df, show=False)
    pc = _collection(ax, "gwas")
    assert len(pc.get_offsets()) == n
    assert pc.get_rasterized()
    ax.figure.savefig(tmp_path / "big.pdf")


def test_manhattan_into_given_axes_and_errors(tidy, gdata):
    _fig, axes = plt.subplots(1, 2)
    out = sg.pl.manhattan(tidy, ax=axes[1], show=False)
    assert out is axes[1]
    assert len(axes[0].collections) == 0
    with pytest.raises(ValueError, match="chromosome"):
        sg.pl.manhattan(tidy.drop(columns="chr"), show=False)
    with pytest.raises(ValueError, match="p-value"):
        sg.pl.manhattan(tidy.drop(columns="p_wald"), show=False)
    with pytest.raises(ValueError, match="gwas2_pval"):
        sg.pl.manhattan(gdata, key="gwas2", show=False)
    with pytest.raises(ValueError, match="rs_nope"):
        sg.pl.manhattan(tidy, highlight=["rs_nope"], show=False)
    bad = tidy.copy()
    bad.loc[0, "p_wald"] = 1.5
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        sg.pl.manhattan(bad, show=False)
    with pytest.raises(TypeError, match="AnnData, a MuData or a pandas DataFrame"):
        sg.pl.manhattan(np.zeros(3), show=False)


def test_manhattan_from_simulated_cohort_truth():
    """Plot marginal p-values of a simulated cohort and highlight its causal SNPs."""
    from scipy import stats

    g = sg.datasets.simulate_cohort(200, 600, n_chromosomes=3, n_causal=3, rng=0)
    X = g.X - g.X.mean(axis=0)
    y = g.obs["pheno"].to_numpy() - g.obs["pheno"].mean()
    r = (X.T @ y) / np.sqrt((X**2).sum(axis=0) * (y @ y) + 1e-300)
    t = r * np.sqrt((len(y) - 2) / np.clip(1 - r**2, 1e-12, None))
    g.var["gwas_pval"] = 2 * stats.t.sf(np.abs(t), len(y) - 2)
    causal = list(g.uns["simulation"]["causal_snps"])
    ax = sg.pl.manhattan(g, highlight=causal, show=False)
    assert len(_collection(ax, "highlight").get_offsets()) == 3
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "3"]


def test_qq_lambda_band_and_other(tidy, tmp_path):
    rng = np.random.default_rng(3)
    null = pd.DataFrame({"chr": "1", "ps": np.arange(5000), "p_wald": rng.uniform(size=5000)})
    from scipy import stats

    chi2 = stats.chi2.isf(rng.uniform(size=5000), 1) * 1.5  # inflated by 1.5
    inflated = null.assign(p_wald=stats.chi2.sf(chi2, 1))
    ax = sg.pl.qq(null, other=inflated, label="LMM", other_label="linear", show=False)
    pts = _collection(ax, "qq").get_offsets()
    assert len(pts) == 5000
    assert len(_collection(ax, "qq_other").get_offsets()) == 5000
    # expected quantiles -log10((i - 0.5) / n) against the sorted observed p
    np.testing.assert_allclose(np.sort(pts[:, 0])[::-1], -np.log10((np.arange(1, 5001) - 0.5) / 5000))
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts[2:] == ["expected under the null", "95% band under the null"]  # every drawn element explained
    lam = [float(s.split("= ")[1].rstrip(")")) for s in texts[:2]]
    assert texts[0].startswith("LMM")
    assert texts[1].startswith("linear")
    assert abs(lam[0] - 1.0) < 0.06
    assert abs(lam[1] - 1.5) < 0.1
    band = _collection(ax, "ci")
    verts = band.get_paths()[0].vertices
    assert verts[:, 1].min() >= 0
    # the diagonal y = x
    diag = [line for line in ax.get_lines() if line.get_gid() == "diagonal"]
    assert len(diag) == 1
    ax.figure.savefig(tmp_path / "qq.png", dpi=60)
    assert (tmp_path / "qq.png").stat().st_size > 1000


def test_qq_anndata_and_errors(gdata):
    ax = sg.pl.qq(gdata, ci=None, show=False)
    assert len(_collection(ax, "qq").get_offsets()) == 297
    assert not [c for c in ax.collections if c.get_gid() == "ci"]
    assert "λ" in ax.get_legend().get_texts()[0].get_text()
    fig = sg.pl.qq(gdata, return_fig=True)
    assert fig is plt.gcf()
    with pytest.raises(ValueError, match="ci"):
        sg.pl.qq(gdata, ci=1.5, show=False)
    with pytest.raises(ValueError, match="gwas_pval"):
        sg.pl.qq(AnnData(X=np.zeros((2, 3)), var=pd.DataFrame({"chrom": ["1"] * 3}, index=list("abc"))), show=False)


def test_plots_leave_input_unchanged(tidy, gdata):
    before_df = tidy.copy()
    before_var = gdata.var.copy()
    sg.pl.manhattan(tidy, other=gdata, annotate_top=2, show=False)
    sg.pl.qq(gdata, other=tidy, show=False)
    pd.testing.assert_frame_equal(tidy, before_df)
    pd.testing.assert_frame_equal(gdata.var, before_var)
    assert not gdata.uns


def test_qq_needs_only_p_values(gdata):
    u = np.random.default_rng(4).uniform(size=400)
    ax = sg.pl.qq(pd.DataFrame({"p": u}), show=False)
    assert len(_collection(ax, "qq").get_offsets()) == 400
    nochrom = gdata.copy()
    del nochrom.var["chrom"], nochrom.var["pos"], nochrom.var["cm"]
    nochrom.var["gwas_pval"] = nochrom.var["gwas_pval"].astype("float64")
    ax = sg.pl.qq(nochrom, show=False)
    assert len(_collection(ax, "qq").get_offsets()) == 297
    # the Manhattan plot does need the chromosome
    with pytest.raises(ValueError, match="chrom"):
        sg.pl.manhattan(nochrom, show=False)


def test_missing_chromosome_is_an_error_in_manhattan(tidy, gdata):
    g = gdata.copy()
    g.var["chrom"] = g.var["chrom"].astype(object)
    g.var.loc[["snp010", "snp011"], "chrom"] = None
    with pytest.raises(ValueError, match=r"2 SNP\(s\) with a p-value have no chromosome.*\['snp010', 'snp011'\]"):
        sg.pl.manhattan(g, show=False)
    g.var.loc[["snp010", "snp011"], "gwas_pval"] = np.nan  # untested SNPs without a chromosome are left out
    ax = sg.pl.manhattan(g, show=False)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "3"]
    t = tidy.copy()
    t["chr"] = t["chr"].astype("string")
    t.loc[3, "chr"] = pd.NA
    with pytest.raises(ValueError, match="column 'chr'"):
        sg.pl.manhattan(t, show=False)
    assert len(_collection(sg.pl.qq(t, show=False), "qq").get_offsets()) == 140


def test_gemma_p_value_names_on_anndata(tidy, gdata):
    ref = _collection(sg.pl.manhattan(gdata, show=False), "gwas").get_offsets()
    got = _collection(sg.pl.manhattan(gdata, pval="p_wald", show=False), "gwas").get_offsets()
    np.testing.assert_array_equal(got, ref)
    qq_ref = _collection(sg.pl.qq(gdata, show=False), "qq").get_offsets()
    np.testing.assert_array_equal(_collection(sg.pl.qq(gdata, pval="p_wald", show=False), "qq").get_offsets(), qq_ref)
    # a tidy table answers to pval="pval" with its p_wald column
    ref_t = _collection(sg.pl.manhattan(tidy, show=False), "gwas").get_offsets()
    np.testing.assert_array_equal(
        _collection(sg.pl.manhattan(tidy, pval="pval", show=False), "gwas").get_offsets(), ref_t
    )
    with pytest.raises(ValueError, match=r"GEMMA's p_wald.*\['pval', 'p_lrt'\]"):
        sg.pl.manhattan(gdata, pval="p_nope", show=False)


@pytest.mark.filterwarnings("ignore:From 0.4 .update:FutureWarning")
def test_plots_read_the_genotype_modality_of_a_mudata(gdata):
    mudata = pytest.importorskip("mudata")
    md = mudata.MuData({"geno": gdata.copy(), "pheno": AnnData(np.zeros((5, 1)))})
    ref = _collection(sg.pl.manhattan(gdata, show=False), "gwas").get_offsets()
    np.testing.assert_array_equal(_collection(sg.pl.manhattan(md, show=False), "gwas").get_offsets(), ref)
    ax = sg.pl.qq(md, other=gdata, show=False)
    assert len(_collection(ax, "qq").get_offsets()) == len(_collection(ax, "qq_other").get_offsets()) == 297
    other = mudata.MuData({"G": gdata.copy()})
    ax = sg.pl.manhattan(other, mod="G", show=False)
    np.testing.assert_array_equal(_collection(ax, "gwas").get_offsets(), ref)
    with pytest.raises(ValueError, match="Modality 'geno' not found"):
        sg.pl.manhattan(other, show=False)


@pytest.mark.filterwarnings("ignore:From 0.4 .update:FutureWarning")
def test_manhattan_after_mudata_gwas():
    """End to end: sg.tl.gwas on a MuData, then the plots on the same MuData."""
    mudata = pytest.importorskip("mudata")
    g = sg.datasets.simulate_cohort(120, 300, n_chromosomes=3, n_causal=2, heritability=0.6, rng=2)
    pheno = AnnData(g.obs[["pheno"]].to_numpy(), obs=pd.DataFrame(index=g.obs_names))
    pheno.var_names = ["pheno"]
    md = mudata.MuData({"geno": AnnData(g.X, obs=pd.DataFrame(index=g.obs_names), var=g.var), "pheno": pheno})
    sg.tl.gwas(md, "pheno", method="linear")
    ax = sg.pl.manhattan(md, show=False)
    assert len(_collection(ax, "gwas").get_offsets()) == md["geno"].uns["gwas"]["n_snps_tested"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "3"]
    table = sg.get.gwas_df(md)  # the tidy table reads the genotype modality too, with GEMMA -lm's n_obs
    assert len(table) == md["geno"].uns["gwas"]["n_snps_tested"]
    assert (table["n_obs"] + table["n_miss"] == 120).all()


# ------------------------------------------------------------------ locus labels, legends, legibility
def _locus_table():
    """Five genome-wide loci (two on chromosome 2, 30 Mb apart), each a peak of 9 SNPs, and one sub-threshold peak."""
    rng = np.random.default_rng(7)
    chrs = np.repeat(["1", "2", "3", "X"], 200)
    ps = np.tile(np.arange(200) * 250_000, 4)  # a SNP every 250 kb, 50 Mb per chromosome
    p = rng.uniform(0.01, 1, size=800)
    leads = {}
    for chrom, at, best in (("1", 60, 1e-12), ("2", 40, 1e-9), ("2", 160, 3e-10), ("3", 100, 2e-8), ("X", 20, 1e-14)):
        i = np.flatnonzero(chrs == chrom)[at]
        p[i - 4 : i + 5] = best * 10.0 ** np.abs(np.arange(-4, 5))  # the lead in the middle, weaker around it
        leads[f"rs{i}"] = best
    j = np.flatnonzero(chrs == "3")[30]
    p[j - 2 : j + 3] = [1e-5, 1e-6, 1e-7, 1e-6, 1e-5]  # suggestive only: not labelled at 5e-8
    return pd.DataFrame({"chr": chrs, "rs": [f"rs{i}" for i in range(800)], "ps": ps, "p_wald": p}), leads


def _locus_labels(ax, gid="locus_label"):
    return [t for t in ax.texts if t.get_gid() == gid]


def test_manhattan_labels_every_genomewide_locus_once():
    df, leads = _locus_table()
    ax = sg.pl.manhattan(df, annotate_pval=5e-8, show=False)
    labels = _locus_labels(ax)
    # one label per locus, its lead SNP, strongest first; 36 SNPs pass 5e-8 but only 5 labels are written
    assert (df["p_wald"] < 5e-8).sum() > 20
    assert [t.get_text() for t in labels] == sorted(leads, key=leads.get)
    x = dict(zip(df["rs"], _collection(ax, "gwas").get_offsets()[:, 0], strict=True))
    for t in labels:
        assert t.xy == pytest.approx((x[t.get_text()], -np.log10(leads[t.get_text()])))
    # every label is inside the axes, above the points under it, and no two texts overlap
    fig = ax.figure
    check_figure(fig)
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.text import Text

    r = RendererAgg(fig.bbox.width, fig.bbox.height, fig.dpi)
    inside = ax.get_window_extent(r)
    pts = ax.transData.transform(_collection(ax, "gwas").get_offsets())
    for t in labels:
        b = Text.get_window_extent(t, r)
        assert inside.y0 < b.y0, t.get_text()
        assert b.y1 < inside.y1, t.get_text()
        assert inside.x0 <= b.x0, t.get_text()
        assert b.x1 <= inside.x1, t.get_text()
        under = (pts[:, 0] > b.x0) & (pts[:, 0] < b.x1)
        assert (pts[under, 1] < b.y0 + 0.5).all(), t.get_text()
    # the two strongest loci; a window of 0 bp makes every SNP below the threshold its own locus
    top2 = sg.pl.manhattan(df, annotate_top=2, show=False)
    assert [t.get_text() for t in _locus_labels(top2)] == ["rs620", "rs60"]
    assert [
        t.get_text() for t in _locus_labels(sg.pl.manhattan(df, annotate_pval=1e-3, annotate_top=1, show=False))
    ] == ["rs620"]
    every = sg.pl.manhattan(df, annotate_pval=5e-8, locus_window=0, show=False)
    assert len(_locus_labels(every)) == int((df["p_wald"] < 5e-8).sum())
    # a window wider than the two loci's distance on chromosome 2 merges them under the stronger lead
    wide = sg.pl.manhattan(df, annotate_pval=5e-8, locus_window=40e6, show=False)
    assert "rs240" not in [t.get_text() for t in _locus_labels(wide)]
    assert len(_locus_labels(wide)) == 4
    # at 1e-5 the suggestive peak is one more locus
    assert len(_locus_labels(sg.pl.manhattan(df, annotate_pval=1e-5, show=False))) == 6


def test_manhattan_mirrored_labels_below_and_legend():
    df, leads = _locus_table()
    other = df.assign(p_wald=np.where(df["rs"] == "rs620", 1e-11, np.clip(df["p_wald"] * 1e5, 0, 1)))
    ax = sg.pl.manhattan(
        df,
        other=other,
        annotate_pval=5e-8,
        highlight=list(leads),
        highlight_label="causal",
        label="real",
        other_label="synthetic",
        show=False,
    )
    below = _locus_labels(ax, "locus_label_other")
    assert [t.get_text() for t in below] == ["rs620"]
    assert below[0].xy[1] == pytest.approx(-11.0)
    assert ax.get_ylim()[0] < -11.0
    # the legend names the highlighted SNPs and both threshold lines, once each
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["causal", "genome-wide (p = 5e-8)", "suggestive (p = 1e-5)"]
    check_figure(ax.figure)
    no_lines = sg.pl.manhattan(df, genomewide_line=None, suggestive_line=None, show=False)
    assert no_lines.get_legend() is None


def test_manhattan_annotation_errors_leave_nothing_drawn(tidy):
    _fig, ax = plt.subplots()
    for kwargs, match in (
        ({"annotate_pval": 0.0}, "annotate_pval"),
        ({"annotate_pval": 2.0}, "annotate_pval"),
        ({"locus_window": -1}, "locus_window"),
        ({"locus_window": np.nan}, "locus_window"),
        ({"annotate_top": True}, "annotate_top"),
        ({"annotate_top": -1}, "annotate_top"),
        ({"genomewide_line": 1.0}, "genomewide_line"),
    ):
        with pytest.raises(ValueError, match=match):
            sg.pl.manhattan(tidy, ax=ax, show=False, **kwargs)
    assert not ax.collections
    assert not ax.lines


def test_manhattan_labels_fit_a_crowded_genome():
    """Many loci close together: every label written, none over another, all inside the axes."""
    rng = np.random.default_rng(3)
    df = pd.DataFrame(
        {
            "chr": np.repeat([str(c) for c in range(1, 23)], 60),
            "ps": np.tile(np.arange(60) * 2_000_000, 22),
            "p_wald": rng.uniform(size=1320) ** 6,
        }
    )
    n_loci = 40
    ax = sg.pl.manhattan(df, annotate_top=n_loci, locus_window=0, show=False)
    assert len(_locus_labels(ax)) == n_loci
    check_figure(ax.figure)


def _fake_report(holdout: bool, *, af_max: float = 0.5, knn: float = 0.94, logistic: float = 0.48) -> AnnData:
    """An AnnData holding a synthesis report with the tables sg.pl.synthesis_report reads."""
    rng = np.random.default_rng(0)
    af = rng.uniform(0.02, af_max, size=200)
    kinds = ["syn->train", "real->real"] + (["syn->holdout"] if holdout else [])
    distances = pd.DataFrame({"kind": np.repeat(kinds, 50), "distance": rng.normal(20, 2, size=50 * len(kinds))})
    privacy = {"real_nn_dist_p05": 15.0, "mia_auc_nn": 0.51 if holdout else np.nan}
    privacy["mia_auc_window"] = 0.53 if holdout else np.nan
    report = {
        "fidelity": pd.DataFrame(
            {
                "value": pd.Series(
                    {"af_corr": 0.99, "ld_r2_corr": 0.9, "classifier_auc": logistic, "classifier_auc_knn": knn}
                )
            }
        ),
        "af": pd.DataFrame({"af_real": af, "af_synthetic": np.clip(af + rng.normal(0, 0.01, 200), 0, 1)}),
        "ld_decay": pd.DataFrame(
            {"distance": [5e4, 1.5e5, 2.5e5], "r2_real": [0.5, 0.4, 0.3], "r2_synthetic": [0.45, 0.35, 0.3]}
        ),
        "pca": pd.DataFrame(
            {"PC1": rng.normal(size=100), "PC2": rng.normal(size=100), "source": ["real"] * 50 + ["synthetic"] * 50}
        ),
        "privacy": pd.DataFrame({"value": pd.Series(privacy)}),
        "distances": distances,
    }
    return AnnData(np.zeros((2, 2)), uns={"synthesis_report": report})


def test_synthesis_report_titles_without_holdout_and_strongest_auc():
    fig = sg.pl.synthesis_report(_fake_report(holdout=False), return_fig=True)
    af_ax, _, pca_ax, priv_ax = fig.axes
    titles = [a.get_title() for a in fig.axes]
    assert not any("nan" in t.lower() for t in titles), titles
    assert priv_ax.get_title() == "membership inference needs holdout="
    # the headline is the stronger classifier, named; the other beside it
    assert pca_ax.get_title() == "real vs synthetic AUC 0.94 (k-NN; logistic 0.48)"
    other = sg.pl.synthesis_report(_fake_report(True, knn=0.6, logistic=0.7), panels=("pca", "privacy"), show=False)
    assert other[0].get_title() == "real vs synthetic AUC 0.70 (logistic; k-NN 0.60)"
    assert other[1].get_title() == "membership-inference AUC: NN 0.51, windows 0.53"
    assert [t.get_text() for t in other[1].get_legend().get_texts()] == [
        "syn->train",
        "real->real",
        "syn->holdout",
        "real->real NN 5%",
    ]
    # the AF axes span the frequencies drawn (minor allele frequencies here: up to 0.5, not 1)
    af = _fake_report(False).uns["synthesis_report"]["af"]
    hi = max(af["af_real"].max(), af["af_synthetic"].max())
    assert hi < af_ax.get_xlim()[1] < hi + 0.05
    assert af_ax.get_ylim() == af_ax.get_xlim()
    assert [t.get_text() for t in af_ax.get_legend().get_texts()] == ["SNP", "y = x"]
    check_figure(fig)


def test_ems_legends_explain_every_line():
    vdata = sg.datasets.simulate_variants(1500, 30, n_chromosomes=4, rng=0)
    sg.tl.ems_score(vdata, preset="fast", rng=0, n_boot=0)
    fig = sg.pl.ems_curves(vdata, return_fig=True)
    for a in fig.axes:
        grey = [line for line in a.lines if line.get_gid() == "per_chromosome"]
        assert len(grey) == 4
        legend = [t.get_text() for t in a.get_legend().get_texts()]
        assert legend[-1] == "per chromosome (4)"
        assert len(legend) == 3  # pooled, chance, per chromosome
    check_figure(fig)
    ax = sg.pl.ems_calibration(vdata, show=False)
    assert [t.get_text() for t in ax.get_legend().get_texts()][-1] == "perfectly calibrated"
    check_figure(ax.figure)
    check_figure(sg.pl.ems_importance(vdata, return_fig=True))


@pytest.mark.parametrize("which", ["manhattan", "manhattan_other", "qq", "qq_other", "synthesis_report"])
def test_every_plot_legible(which, tidy, gdata):
    """Text of every sg.pl figure at >= 8 pt at its default size, no two texts overlapping."""
    if which == "manhattan":
        fig = sg.pl.manhattan(gdata, annotate_pval=1e-5, highlight=["snp020"], title="GWAS", return_fig=True)
    elif which == "manhattan_other":
        fig = sg.pl.manhattan(
            tidy, other=gdata, annotate_top=3, label="real", other_label="other", title="two", return_fig=True
        )
    elif which == "qq":
        fig = sg.pl.qq(gdata, title="QQ", return_fig=True)
    elif which == "qq_other":
        fig = sg.pl.qq(tidy, other=gdata, label="LMM", other_label="linear", return_fig=True)
    else:
        fig = sg.pl.synthesis_report(_fake_report(True), return_fig=True)
    check_figure(fig)


def test_check_figure_catches_small_text_low_dpi_and_overlaps():
    fig, ax = plt.subplots()
    ax.set_title("fine")
    check_figure(fig, dpi=150)
    with pytest.raises(AssertionError, match="dpi 100"):
        check_figure(fig, dpi=100)
    ax.text(0.5, 0.5, "tiny", fontsize=6)
    with pytest.raises(AssertionError, match="'tiny' at 6 pt"):
        check_figure(fig)
    fig, ax = plt.subplots()
    ax.text(0.5, 0.5, "one", fontsize=10)
    ax.text(0.5, 0.5, "two", fontsize=10)
    with pytest.raises(AssertionError, match="'one' and 'two' overlap"):
        check_figure(fig)
