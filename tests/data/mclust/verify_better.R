# For each cell where our BIC beat mclust's (z/DATASET_MODEL_K.csv, written by export_ours.py): mclust's own EM
# started from our responsibilities, `me(modelName, data, z)` with mclust's defaults, and mclust's density of our
# parameters (z/DATASET_MODEL_K.params). Writes verified_better.csv: the log-likelihood and BIC mclust's EM ends at,
# and those of our parameters by mclust's `dens` (mclust's sign); the expected complete-data log-likelihood at our
# responsibilities of our parameters (ours_q) and of mclust's `mstep` from them (mstep_q); the rows of cells
# without files in z/ stay (with NA in columns added since), a cell's new row replaces its old one in place.
# Run from the repository root after export_ours.py:
#   Rscript tests/data/mclust/verify_better.R
suppressPackageStartupMessages(library(mclust))
here <- "tests/data/mclust"
# parameters with full covariances sigma (d x d x k), in the form mclust's densities take (as VVV: the same matrices)
as_vvv <- function(pro, mean, sigma) {
  d <- dim(sigma)[1]; k <- dim(sigma)[3]
  chol_sigma <- array(sapply(seq_len(k), function(j) chol(sigma[, , j])), c(d, d, k))
  list(pro = pro, mean = mean, variance = list(modelName = "VVV", d = d, G = k, sigma = sigma, cholsigma = chol_sigma))
}
# the expected complete-data log-likelihood at responsibilities z: what an exact M-step from z maximises
expected <- function(x, z, params) {
  sum(z * sweep(cdens(data = x, modelName = "VVV", parameters = params, logarithm = TRUE), 2, log(params$pro), "+"))
}
rows <- list()
for (file in sort(list.files(file.path(here, "z"), pattern = "\\.csv$"))) {
  parts <- strsplit(sub("\\.csv$", "", file), "_")[[1]]
  name <- parts[1]; model <- parts[2]; k <- as.integer(parts[3])
  x <- as.matrix(read.csv(file.path(here, paste0(name, ".csv"))))
  z <- as.matrix(read.csv(file.path(here, "z", file), header = FALSE))
  fit <- me(data = x, modelName = model, z = z)
  loglik <- if (is.null(fit$loglik)) NA else fit$loglik
  npar <- nMclustParams(model, ncol(x), k)
  bic <- 2 * loglik - npar * log(nrow(x))
  # our parameters' log-likelihood by mclust's own density (as VVV: the same matrices)
  p <- as.matrix(read.csv(file.path(here, "z", sub("\\.csv$", ".params", file)), header = FALSE))
  d <- ncol(x)
  ours <- as_vvv(p[, 1], t(p[, 2:(1 + d), drop = FALSE]), array(t(p[, (2 + d):ncol(p)]), c(d, d, k)))
  ours_loglik <- sum(dens(data = x, modelName = "VVV", parameters = ours, logarithm = TRUE))
  # mclust's own M-step from our responsibilities, against our parameters (the fixed point of our EM at z): where
  # its expected log-likelihood is lower, mclust's M-step does not reach the maximum there, and its EM from our
  # answer can end anywhere below it
  m <- mstep(data = x, modelName = model, z = z)$parameters
  mstep_q <- tryCatch(expected(x, z, as_vvv(m$pro, m$mean, m$variance$sigma)), error = function(e) NA)
  rows[[length(rows) + 1]] <- data.frame(
    dataset = name, model = model, k = k, log_likelihood = loglik, bic = bic,
    ours_log_likelihood = ours_loglik, ours_bic = 2 * ours_loglik - npar * log(nrow(x)),
    ours_q = expected(x, z, ours), mstep_q = mstep_q
  )
}
out <- do.call(rbind, rows)
# the cells not in z/ keep their rows (export_ours.py can be run on some data sets, or cells, at a time); a row
# whose cell no longer beats mclust stays, unread (the tests look a cell up only where ours is better)
target <- file.path(here, "verified_better.csv")
if (file.exists(target)) {
  kept <- read.csv(target)
  kept[setdiff(names(out), names(kept))] <- NA  # columns added since those rows were written
  key <- function(r) paste(r$dataset, r$model, r$k)
  at <- match(key(out), key(kept))  # a cell verified before: its row replaced where it stands
  kept[at[!is.na(at)], names(out)] <- out[!is.na(at), ]
  out <- rbind(kept, out[is.na(at), ])
}
write.csv(out, target, row.names = FALSE)
cat(length(rows), "cells verified,", nrow(out), "rows in all\n")
