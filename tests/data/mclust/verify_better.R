# For each cell where our BIC beat mclust's (z/DATASET_MODEL_K.csv, written by export_ours.py): mclust's own EM
# started from our responsibilities, `me(modelName, data, z)` with mclust's defaults, and mclust's density of our
# parameters (z/DATASET_MODEL_K.params). Writes verified_better.csv: the log-likelihood and BIC mclust's EM ends at,
# and those of our parameters by mclust's `dens` (mclust's sign); the rows of data sets without files in z/ stay.
# Run from the repository root after export_ours.py:
#   Rscript tests/data/mclust/verify_better.R
suppressPackageStartupMessages(library(mclust))
here <- "tests/data/mclust"
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
  sigma <- array(t(p[, (2 + d):ncol(p)]), c(d, d, k))
  chol_sigma <- array(sapply(seq_len(k), function(j) chol(sigma[, , j])), c(d, d, k))
  ours <- list(pro = p[, 1], mean = t(p[, 2:(1 + d), drop = FALSE]),
               variance = list(modelName = "VVV", d = d, G = k, sigma = sigma, cholsigma = chol_sigma))
  ours_loglik <- sum(dens(data = x, modelName = "VVV", parameters = ours, logarithm = TRUE))
  rows[[length(rows) + 1]] <- data.frame(
    dataset = name, model = model, k = k, log_likelihood = loglik, bic = bic,
    ours_log_likelihood = ours_loglik, ours_bic = 2 * ours_loglik - npar * log(nrow(x))
  )
}
out <- do.call(rbind, rows)
# the data sets not in z/ keep their rows (export_ours.py can be run on some data sets at a time)
target <- file.path(here, "verified_better.csv")
if (file.exists(target)) {
  kept <- read.csv(target)
  out <- rbind(kept[!(kept$dataset %in% out$dataset), ], out)
}
write.csv(out, target, row.names = FALSE)
cat(length(rows), "cells verified,", nrow(out), "rows in all\n")
