# mclust's bootstrap standard errors on Old Faithful, model EEE (tied), G = 3 (issue 25). Run once, from the
# repository root:
#   Rscript tests/data/mclust/make_bootstrap_reference.R
# (R 4.x, mclust 6.0.0). It writes tests/data/mclust/bootstrap_faithful_eee3.csv: for each parameter (pro, mean,
# variance) and component, mclust's estimate and MclustBootstrap's standard error (summary(..., what = "se")),
# nboot = 999, type "bs" (the nonparametric bootstrap), seed 2025; the tests read it and never need R.
suppressPackageStartupMessages(library(mclust))
here <- "tests/data/mclust"
x <- as.matrix(read.csv(file.path(here, "faithful.csv")))  # R's faithful, written by make_reference.R
stopifnot(all(x == as.matrix(faithful)))
fit <- Mclust(x, G = 3, modelNames = "EEE", verbose = FALSE)
set.seed(2025)
boot <- MclustBootstrap(fit, nboot = 999, type = "bs", verbose = FALSE)
se <- summary(boot, what = "se")
par <- fit$parameters
rows <- list()
add <- function(parameter, component, i, j, estimate, value) {
  rows[[length(rows) + 1]] <<- data.frame(
    parameter = parameter, component = component, i = i, j = j, estimate = estimate, se = value
  )
}
d <- ncol(x)
for (k in 1:3) {
  add("pro", k, 0, 0, par$pro[k], se$pro[k])
  for (i in 1:d) add("mean", k, i - 1, 0, par$mean[i, k], se$mean[i, k])
  for (i in 1:d) for (j in 1:d) {
    add("variance", k, i - 1, j - 1, par$variance$sigma[i, j, k], se$variance[i, j, k])
  }
}
out <- do.call(rbind, rows)
write.csv(out, file.path(here, "bootstrap_faithful_eee3.csv"), row.names = FALSE)
cat("loglik", fit$loglik, "nonfit", boot$nonfit, "\n")
