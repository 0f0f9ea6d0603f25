# mclust's bootstrap replicates where its stopping rule stops them at once (issue 25, the bootstrap at mclust's
# rule). Run once, from the repository root:
#   Rscript tests/data/mclust/make_bootstrap_first_step.R
# (R 4.x, mclust 6.0.0). Old Faithful, model EEE (tied), G = 3: Mclust's fit, then as MclustBootstrap's type "bs"
# runs each replicate, me() on the resampled rows from the fit's responsibilities z (here the E-step's at the fit's
# parameters, as the bootstrap starts: Mclust's own fit$z is the z its last M-step started from, one E-step
# before, whose M-step gives its parameters), with emControl's tol
# 1e-3 (a change of the log-likelihood below 1e-3 (1 + |loglik|)), where me() stops at its second iteration: the
# parameters of its second M-step. The resamples are fixed counts (each row repeated c times, c = ((2654435761 i +
# 97 b) mod 2^32) mod 3 for row i = 0, 1, ... of replicate b, a multiplicative hash), which the test makes again. It writes
# tests/data/mclust/bootstrap_faithful_first_step.csv: the fit's parameters (replicate 0) and each replicate's
# (1, 2, 3), with me()'s iterations and log-likelihood; the tests read it and never need R.
suppressPackageStartupMessages(library(mclust))
here <- "tests/data/mclust"
x <- as.matrix(read.csv(file.path(here, "faithful.csv")))
fit <- Mclust(x, G = 3, modelNames = "EEE", verbose = FALSE)
n <- nrow(x)
z <- estep(data = x, modelName = "EEE", parameters = fit$parameters)$z
rows <- list()
add <- function(b, par, iterations, loglik) {
  for (k in 1:3) {
    rows[[length(rows) + 1]] <<- data.frame(replicate = b, parameter = "pro", component = k, i = 0, j = 0,
                                            value = par$pro[k], iterations = iterations, loglik = loglik)
    for (i in 1:2) rows[[length(rows) + 1]] <<- data.frame(replicate = b, parameter = "mean", component = k,
                                                           i = i - 1, j = 0, value = par$mean[i, k],
                                                           iterations = iterations, loglik = loglik)
    for (i in 1:2) for (j in 1:2) {
      rows[[length(rows) + 1]] <<- data.frame(replicate = b, parameter = "variance", component = k, i = i - 1,
                                              j = j - 1, value = par$variance$sigma[i, j, k],
                                              iterations = iterations, loglik = loglik)
    }
  }
}
add(0, fit$parameters, 0, fit$loglik)
for (b in 1:3) {
  counts <- (((0:(n - 1)) * 2654435761 + 97 * b) %% 4294967296) %% 3
  idx <- rep(seq_len(n), counts)
  rep_fit <- me(data = x[idx, ], modelName = "EEE", z = z[idx, ], control = emControl(tol = c(1e-3, 1e-8)))
  iterations <- attributes(rep_fit)$info[["iterations"]]
  add(b, rep_fit$parameters, iterations, rep_fit$loglik)
  cat("replicate", b, "points", length(idx), "iterations", iterations, "change", attributes(rep_fit)$info[["error"]], "loglik", rep_fit$loglik, "\n")
}
out <- do.call(rbind, rows)
write.csv(out, file.path(here, "bootstrap_faithful_first_step.csv"), row.names = FALSE)
cat("loglik", fit$loglik, "\n")
