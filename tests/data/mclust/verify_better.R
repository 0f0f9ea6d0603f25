# For each cell where our BIC beat mclust's (z/DATASET_MODEL_K.csv, written by export_ours.py): mclust's own EM
# started from our responsibilities, `me(modelName, data, z)` with mclust's defaults. Writes verified_better.csv:
# the log-likelihood and BIC mclust ends at (mclust's sign). Run from the repository root after export_ours.py:
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
  bic <- 2 * loglik - nMclustParams(model, ncol(x), k) * log(nrow(x))
  rows[[length(rows) + 1]] <- data.frame(dataset = name, model = model, k = k, log_likelihood = loglik, bic = bic)
}
out <- if (length(rows)) do.call(rbind, rows) else
  data.frame(dataset = character(), model = character(), k = integer(), log_likelihood = numeric(), bic = numeric())
write.csv(out, file.path(here, "verified_better.csv"), row.names = FALSE)
cat(nrow(out), "cells verified\n")
