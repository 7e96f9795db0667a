# MASS::glm.nb(gene ~ cov + offset(off)) for every gene_* column of a CSV; used by benchmarks/negbin_vs_mass.py
# and tests/test_negbin.py.  Usage: Rscript mass_glm_nb.R in.csv out.csv
suppressPackageStartupMessages(library(MASS))
args <- commandArgs(TRUE)
d <- read.csv(args[1])
genes <- grep("^gene_", names(d), value = TRUE)
rows <- lapply(genes, function(g) {
  f <- tryCatch(glm.nb(as.formula(paste(g, "~ cov + offset(off)")), data = d,
                       control = glm.control(epsilon = 1e-12, maxit = 200)), error = function(e) NULL)
  if (is.null(f)) return(data.frame(gene = g, b0 = NA, b1 = NA, se0 = NA, se1 = NA, theta = NA,
                                    se_theta = NA, se_theta_final = NA))
  s <- summary(f)$coefficients
  # theta.ml's information (its own formula) at the final theta and means: SE.theta comes from the
  # iterate before its last Newton step
  th <- f$theta; mu <- f$fitted.values; y <- f$y
  i <- sum(-trigamma(th + y) + trigamma(th) - 1 / th + 2 / (mu + th) - (y + th) / (mu + th)^2)
  data.frame(gene = g, b0 = s[1, 1], b1 = s[2, 1], se0 = s[1, 2], se1 = s[2, 2],
             theta = th, se_theta = f$SE.theta, se_theta_final = sqrt(1 / i))
})
write.csv(do.call(rbind, rows), args[2], row.names = FALSE)
