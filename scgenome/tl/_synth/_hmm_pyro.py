"""The diploid haplotype-cluster HMM written as a pyro model: the reference for the compiled E-step.

:mod:`._hmm` runs the forward-backward recursions in compiled loops, factorised over the two haplotypes
(``O(K^2)`` per locus and individual). Here the same model is a pyro program: each haplotype's cluster is a
discrete site enumerated in parallel inside :func:`pyro.markov`, the genotype a factor on the pair, and pyro's
variable elimination (:class:`~pyro.infer.TraceEnum_ELBO`) computes the exact log-likelihood and the
posterior marginals. It shares no code with the compiled recursions, so the tests and
``benchmarks/hmm_vs_pyro.py`` check one against the other; it is far too slow to fit a cohort with.
"""

from __future__ import annotations

import numpy as np

from ._hmm import _emission_tables


def pyro_estep(
    codes: np.ndarray,
    r: np.ndarray,
    theta: np.ndarray,
    alpha: np.ndarray,
    group: np.ndarray,
    *,
    marginals: bool = True,
) -> tuple[float, np.ndarray | None]:
    """Exact log-likelihood and cluster occupancy of one chromosome by pyro's enumeration.

    Parameters
    ----------
    codes
        ``(n, L)`` int8 genotype codes (0, 1, 2; 3 = missing).
    r
        ``(L,)`` jump probabilities (the first locus' is ignored: the chain starts from ``alpha``).
    theta
        ``(L, K)`` probability that cluster ``k`` carries the counted allele.
    alpha
        ``(G, L, K)`` jump-to distributions per structure group.
    group
        ``(n,)`` structure group of each individual.
    marginals
        Also compute the occupancy (a second pass of pyro's variable elimination).

    Returns
    -------
    The summed log-likelihood of the ``n`` individuals and, with ``marginals``, ``(G, L, K)`` expected
    haplotypes of each group in each cluster at the observed loci: the ``total`` counts of the compiled E-step.
    """
    import pyro
    import pyro.distributions as dist
    import torch
    from pyro.infer import TraceEnum_ELBO
    from pyro.ops.indexing import Vindex

    n, L = codes.shape
    K = theta.shape[1]
    E, _ = _emission_tables(theta)
    log_e = torch.log(torch.as_tensor(E))  # (L, 4, K, K); code 3 (missing) emits with probability 1
    x = torch.as_tensor(codes, dtype=torch.long)
    grp = np.asarray(group, dtype=np.int64)
    a = torch.as_tensor(alpha)[torch.as_tensor(grp)]  # (n, L, K)
    jump = torch.as_tensor(np.asarray(r, dtype=np.float64))
    eye = torch.eye(K, dtype=torch.float64)
    ind = torch.arange(n)

    def model():
        with pyro.plate("individuals", n, dim=-1):
            z = [None, None]
            for loc in pyro.markov(range(L)):
                stay = (1 - jump[loc]) * eye + jump[loc] * a[:, loc, None, :]  # (n, K, K) from -> to
                for h in range(2):
                    probs = a[:, 0] if loc == 0 else Vindex(stay)[ind, z[h]]
                    z[h] = pyro.sample(f"z{h}_{loc}", dist.Categorical(probs), infer={"enumerate": "parallel"})
                pyro.factor(f"x_{loc}", Vindex(log_e[loc])[x[:, loc], z[0], z[1]])

    def guide():
        pass

    elbo = TraceEnum_ELBO(max_plate_nesting=1)
    with torch.no_grad():
        loglik = -float(elbo.loss(model, guide))
    if not marginals:
        return loglik, None
    post = elbo.compute_marginals(model, guide)
    occ = np.zeros((int(grp.max()) + 1, L, K))
    observed = codes != 3
    values = torch.arange(K)[:, None]
    for loc in range(L):
        for h in range(2):
            probs = post[f"z{h}_{loc}"].log_prob(values).exp().T.detach().numpy()  # (n, K)
            np.add.at(occ[:, loc], grp, probs * observed[:, loc, None])
    return loglik, occ


__all__ = ["pyro_estep"]
