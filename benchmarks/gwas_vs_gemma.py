"""Benchmark: scgenome GWAS vs GEMMA 0.98.5 (-gk 1 + -lmm 4) and PLINK 2 (--glm), same data, same threads.

Runs every tool as a separate process (so peak memory is that process's maximum resident set size, from
``os.wait4``), with OMP/OPENBLAS/MKL/NUMBA threads pinned to ``--threads`` for all of them, and checks that the hit sets
agree. Data: HS1940 (../shared/data/mouse-hs1940, phenotype 1 = CD8) and simulated cohorts
(``sg.datasets.simulate_cohort``) written as PLINK files with bed-reader's ``to_bed``.

Usage::

    python benchmarks/gwas_vs_gemma.py --sizes hs1940,2000x20000,5000x100000 --threads 1 --repeats 1

Debian's ``gemma`` and ``plink2`` are installed with apt-get when missing.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
THRESHOLDS = (1e-5, None, 1e-8)  # None = Bonferroni


def ensure_tools() -> None:
    missing = [t for t in ("gemma", "plink2") if shutil.which(t) is None]
    if not missing:
        return
    print(f"installing {missing} with apt-get", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-cache", "policy", *missing], check=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, env=env)


def run(cmd: list[str], env: dict, cwd: Path, log: Path) -> tuple[float, float]:
    """Run ``cmd`` under ``/usr/bin/time``; return wall seconds and the peak RSS (MiB) of that process.

    (``os.wait4`` of a direct child would report at least this script's own RSS: Linux keeps the high-water
    mark across fork + exec, so the small ``time`` process is the parent instead.)
    """
    rss_file = cwd / ".maxrss"
    full = ["/usr/bin/time", "-f", "%M", "-o", str(rss_file), *map(str, cmd)]
    t0 = time.perf_counter()
    with log.open("ab") as fh:
        fh.write(("\n$ " + " ".join(map(str, cmd)) + "\n").encode())
        fh.flush()
        code = subprocess.run(full, env=env, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT, check=False).returncode
    wall = time.perf_counter() - t0
    if code != 0:
        msg = f"command failed ({code}): {' '.join(map(str, cmd))}; see {log}"
        raise RuntimeError(msg)
    return wall, int(rss_file.read_text().split()[-1]) / 1024


SCG_SNIPPET = r"""
import json, sys, time
import numpy as np
import scgenome as sg
kind, src, out, method = sys.argv[1:5]
t0 = time.perf_counter()
if kind == "bimbam":
    g = sg.io.read_bimbam(src + ".geno.txt.gz", src + ".pheno.txt.gz", src + ".anno.txt.gz")
    pheno = "pheno1"
else:
    g = sg.io.read_plink(src)
    pheno = "pheno1"
t_read = time.perf_counter() - t0
t1 = time.perf_counter()
if method == "lmm":
    sg.pp.kinship(g, samples=pheno)
t_kin = time.perf_counter() - t1
t2 = time.perf_counter()
sg.tl.gwas(g, pheno, method=method, chunk_size=4000)
t_gwas = time.perf_counter() - t2
df = sg.get.gwas_df(g)
df[["rs", "p_wald"]].to_csv(out, sep="\t", index=False)
print(json.dumps({"read": t_read, "kinship": t_kin, "gwas": t_gwas}))
"""


def scgenome(kind: str, src: Path, work: Path, method: str, env: dict, log: Path) -> dict:
    out = work / f"scg_{method}.tsv"
    timing = work / f"scg_{method}.json"
    cmd = [
        sys.executable,
        "-c",
        SCG_SNIPPET
        + f"\nopen({str(timing)!r}, 'w').write(json.dumps("
        + "{'read': t_read, 'kinship': t_kin, 'gwas': t_gwas}))",
        kind,
        str(src),
        str(out),
        method,
    ]
    wall, rss = run(cmd, env, work, log)
    parts = json.loads(timing.read_text())
    res = pd.read_csv(out, sep="\t")
    return {"wall": wall, "rss": rss, "parts": parts, "p": res.set_index("rs")["p_wald"]}


def gemma(bfile_or_bimbam: dict, work: Path, method: str, env: dict, log: Path) -> dict:
    args = bfile_or_bimbam["args"]
    walls, rss = [], []
    if method == "lmm":
        w, r = run(["gemma", *args, "-gk", "1", "-outdir", "out", "-o", "kin"], env, work, log)
        walls.append(w)
        rss.append(r)
        w, r = run(
            ["gemma", *args, "-k", "out/kin.cXX.txt", "-lmm", "4", "-outdir", "out", "-o", "lmm"], env, work, log
        )
        res_file = work / "out" / "lmm.assoc.txt"
    else:
        w, r = run(["gemma", *args, "-lm", "4", "-outdir", "out", "-o", "lm"], env, work, log)
        res_file = work / "out" / "lm.assoc.txt"
    walls.append(w)
    rss.append(r)
    res = pd.read_csv(res_file, sep="\t")
    return {"wall": sum(walls), "parts": walls, "rss": max(rss), "p": res.set_index("rs")["p_wald"]}


def plink2(bfile: Path, work: Path, env: dict, log: Path, threads: int) -> dict:
    cmd = [
        "plink2",
        "--bfile",
        str(bfile),
        "--glm",
        "allow-no-covars",
        "omit-ref",
        "--threads",
        str(threads),
        "--out",
        str(work / "p2"),
    ]
    wall, rss = run(cmd, env, work, log)
    files = list(work.glob("p2*.glm.linear"))
    res = pd.read_csv(files[0], sep="\t")
    return {"wall": wall, "rss": rss, "p": res.dropna(subset=["P"]).set_index("ID")["P"]}


def hits(p: pd.Series, n_tests: int) -> dict[str, set]:
    out = {}
    for t in THRESHOLDS:
        thr = 0.05 / n_tests if t is None else t
        out["bonf" if t is None else f"{t:g}"] = set(p.index[p.to_numpy() < thr])
    return out


def compare(a: pd.Series, b: pd.Series) -> dict:
    common = a.index.intersection(b.index)
    ha, hb = hits(a.loc[common], len(common)), hits(b.loc[common], len(common))
    d = np.abs(np.log10(a.loc[common].to_numpy()) - np.log10(b.loc[common].to_numpy()))
    return {
        "n_common": len(common),
        "identical_hits": all(ha[k] == hb[k] for k in ha),
        "hits": {k: (len(ha[k]), len(hb[k])) for k in ha},
        "max_dlog10p": float(np.nanmax(d)),
    }


def prepare_hs1940(work: Path) -> dict:
    import scgenome as sg

    d = sg.datasets.data_path("mouse-hs1940")
    work.mkdir(parents=True, exist_ok=True)
    for name in ("mouse_hs1940.pheno.txt", "mouse_hs1940.anno.txt", "mouse_hs1940.bed", "mouse_hs1940.fam"):
        with gzip.open(d / f"{name}.gz", "rb") as src, (work / name).open("wb") as dst:
            shutil.copyfileobj(src, dst)
    # plink2 drops variants at position -9: use 0 (unknown) as the README's conversion does
    bim = pd.read_csv(d / "mouse_hs1940.bim.gz", sep="\t", header=None)
    bim[3] = bim[3].clip(lower=0)
    bim.to_csv(work / "mouse_hs1940.bim", sep="\t", header=False, index=False)
    # keep phenotype 1 only in the .fam (plink2 and GEMMA -bfile read column 6)
    fam = pd.read_csv(work / "mouse_hs1940.fam", sep=r"\s+", header=None).iloc[:, :6]
    fam.to_csv(work / "mouse_hs1940.fam", sep=" ", header=False, index=False, na_rep="-9")
    for name in ("geno", "pheno", "anno"):
        src = d / f"mouse_hs1940.{name}.txt.gz"
        if not (work / src.name).exists():
            (work / src.name).symlink_to(src)
    return {
        "scg_kind": "bimbam",
        "scg_src": work / "mouse_hs1940",
        "gemma": {
            "args": [
                "-g",
                str(d / "mouse_hs1940.geno.txt.gz"),
                "-p",
                str(work / "mouse_hs1940.pheno.txt"),
                "-n",
                "1",
                "-a",
                str(work / "mouse_hs1940.anno.txt"),
            ]
        },
        "bfile": work / "mouse_hs1940",
    }


SIM_SNIPPET = r"""
import sys, time
import numpy as np
import scgenome as sg
from bed_reader import to_bed
n, p, prefix = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
t0 = time.perf_counter()
g = sg.datasets.simulate_cohort(n, p, n_causal=20, heritability=0.5, rng=1)
print(f"  simulated {n} x {p} in {time.perf_counter() - t0:.0f} s", flush=True)
props = {
    "fid": list(g.obs_names),
    "iid": list(g.obs_names),
    "sex": (g.obs["sex"].to_numpy().astype(int) + 1).tolist(),
    "pheno": [f"{v:.8g}" for v in g.obs["pheno"]],
    "chromosome": g.var["chrom"].astype(str).tolist(),
    "sid": list(g.var_names),
    "cm_position": g.var["cm"].to_numpy().tolist(),
    "bp_position": g.var["pos"].astype("int64").tolist(),
    "allele_1": g.var["allele1"].tolist(),
    "allele_2": g.var["allele0"].tolist(),
}
to_bed(prefix + ".bed", np.asarray(g.X, dtype=np.float32), properties=props, count_A1=True)
"""


def prepare_sim(work: Path, n: int, p: int) -> dict:
    """Simulate a cohort in a separate process and write it as PLINK files (kept between runs)."""
    work.mkdir(parents=True, exist_ok=True)
    prefix = work / "sim"
    if not Path(f"{prefix}.bed").exists():
        subprocess.run([sys.executable, "-c", SIM_SNIPPET, str(n), str(p), str(prefix)], check=True)
    return {"scg_kind": "plink", "scg_src": prefix, "gemma": {"args": ["-bfile", str(prefix)]}, "bfile": prefix}


def bench_one(name: str, data: dict, work: Path, env: dict, threads: int, repeats: int, log: Path) -> dict:
    rows = {}
    for method in ("lmm", "linear"):
        scg = [scgenome(data["scg_kind"], data["scg_src"], work, method, env, log) for _ in range(repeats)]
        gem = [gemma(data["gemma"], work, "lmm" if method == "lmm" else "lm", env, log) for _ in range(repeats)]
        s = scg[int(np.argsort([r["wall"] for r in scg])[len(scg) // 2])]
        gm = gem[int(np.argsort([r["wall"] for r in gem])[len(gem) // 2])]
        row = {"scgenome": s, "gemma": gm, "vs_gemma": compare(s["p"], gm["p"])}
        if method == "linear":
            p2 = [plink2(data["bfile"], work, env, log, threads) for _ in range(repeats)]
            pp = p2[int(np.argsort([r["wall"] for r in p2])[len(p2) // 2])]
            row["plink2"] = pp
            # plink2 is compared on the shipped hard calls: for HS1940 scgenome reads the same .bed for this
            if data["scg_kind"] == "bimbam":
                sb = scgenome("plink", data["bfile"], work, "linear", env, log)
                row["scgenome_bed"] = sb
                row["vs_plink2"] = compare(sb["p"], pp["p"])
            else:
                row["vs_plink2"] = compare(s["p"], pp["p"])
        rows[method] = row
    return rows


def fmt(name: str, rows: dict) -> list[str]:
    out = []
    lmm, lin = rows["lmm"], rows["linear"]
    s, g = lmm["scgenome"], lmm["gemma"]
    sk = s["parts"]["kinship"] + s["parts"]["gwas"]
    out.append(
        f"| {name} | kinship + LMM | {sk:.1f} (total {s['wall']:.1f}) | GEMMA -gk 1 + -lmm 4: {g['wall']:.1f} "
        f"| {g['wall'] / s['wall']:.1f}x (compute-only {g['wall'] / sk:.1f}x) | {s['rss']:.0f} / {g['rss']:.0f} "
        f"| {lmm['vs_gemma']['identical_hits']} {lmm['vs_gemma']['hits']} | {lmm['vs_gemma']['max_dlog10p']:.1e} |"
    )
    s, g = lin["scgenome"], lin["gemma"]
    out.append(
        f"| {name} | linear | {s['parts']['gwas']:.1f} (total {s['wall']:.1f}) | GEMMA -lm 4: {g['wall']:.1f} "
        f"| {g['wall'] / s['wall']:.1f}x | {s['rss']:.0f} / {g['rss']:.0f} "
        f"| {lin['vs_gemma']['identical_hits']} {lin['vs_gemma']['hits']} | {lin['vs_gemma']['max_dlog10p']:.1e} |"
    )
    s2 = lin.get("scgenome_bed", s)
    p = lin["plink2"]
    out.append(
        f"| {name} | linear | {s2['parts']['gwas']:.1f} (total {s2['wall']:.1f}) | plink2 --glm: {p['wall']:.1f} "
        f"| {p['wall'] / s2['wall']:.2f}x | {s2['rss']:.0f} / {p['rss']:.0f} "
        f"| {lin['vs_plink2']['identical_hits']} {lin['vs_plink2']['hits']} | {lin['vs_plink2']['max_dlog10p']:.1e} |"
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="hs1940,5000x100000")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--workdir", default=str(HERE / "_work" / "gwas"))
    args = ap.parse_args()
    ensure_tools()
    t = str(args.threads)
    pin = {"OMP_NUM_THREADS": t, "OPENBLAS_NUM_THREADS": t, "MKL_NUM_THREADS": t, "NUMBA_NUM_THREADS": t}
    env = {**os.environ, **pin}
    os.environ.update(pin)
    root = Path(args.workdir)
    root.mkdir(parents=True, exist_ok=True)
    log = root / "commands.log"
    header = [
        f"threads={args.threads}, repeats={args.repeats} (median), wall seconds per tool process "
        "(scgenome: read + kinship + GWAS in one process; the compute-only part in the first column)",
        "",
        "| data | test | scgenome s | peer s | speed-up (peer / scgenome) | peak RSS MiB (scgenome / peer) "
        "| identical hits (1e-5, Bonferroni, 1e-8: scgenome, peer) | max abs d(-log10 p) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines = list(header)
    results = root / "results.json"
    # earlier sizes stay in the file: a run of one size merges into it
    summary = json.loads(results.read_text()) if results.exists() else {}
    for size in args.sizes.split(","):
        print(f"== {size}", flush=True)
        work = root / size
        data = prepare_hs1940(work) if size == "hs1940" else prepare_sim(work, *map(int, size.split("x")))
        rows = bench_one(size, data, work, env, args.threads, args.repeats, log)
        lines += fmt(size, rows)
        summary[size] = {
            m: {k: {kk: vv for kk, vv in v.items() if kk != "p"} if isinstance(v, dict) else v for k, v in r.items()}
            for m, r in rows.items()
        }
        print("\n".join(lines), flush=True)
        results.write_text(json.dumps(summary, indent=1, default=str))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
