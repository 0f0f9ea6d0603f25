# mclust's numbers for the tests of the fourteen covariance models (issue 24). Run once, from the repository root:
#   Rscript tests/data/mclust/make_reference.R
# (Debian: apt-get install -y r-base-core r-cran-mclust; this file was run with R 4.x and mclust 6.0.0). The tests
# read the CSVs it writes and never need R. Data: R's faithful, iris[, 1:4], mclust's diabetes[, 2:4] and
# banknote[, 2:7] are written here first (so Python reads exactly what mclust fitted); wine.csv (13-D) comes from
# make_wine_csv.py (scikit-learn's copy of the UCI data) and is read back. mclust's defaults throughout
# (mclust.options(): hc start on the SVD-transformed data, emControl's tolerances).
suppressPackageStartupMessages(library(mclust))
here <- "tests/data/mclust"
write_data <- function(x, name) write.csv(x, file.path(here, paste0(name, ".csv")), row.names = FALSE)
write_data(faithful, "faithful")
write_data(iris[, 1:4], "iris")
write_data(diabetes[, 2:4], "diabetes")
write_data(banknote[, 2:7], "banknote")

models <- mclust.options("emModelNames")  # the fourteen, in mclust's order
rows <- list()
best <- list()
for (name in c("faithful", "iris", "diabetes", "wine", "banknote")) {
  x <- as.matrix(read.csv(file.path(here, paste0(name, ".csv"))))
  n <- nrow(x); d <- ncol(x)
  bic <- mclustBIC(x, G = 1:9, modelNames = models)
  icl <- mclustICL(x, G = 1:9, modelNames = models)
  for (g in 1:9) for (m in models) {
    p <- nMclustParams(m, d, g)
    b <- bic[as.character(g), m]
    rows[[length(rows) + 1]] <- data.frame(
      dataset = name, model = m, k = g, n_parameters = p, bic = b, icl = icl[as.character(g), m],
      log_likelihood = (b + p * log(n)) / 2
    )
  }
  top_bic <- strsplit(names(summary(bic))[1], ",")[[1]]
  top_icl <- strsplit(names(summary(icl))[1], ",")[[1]]
  best[[length(best) + 1]] <- data.frame(
    dataset = name, n = n, d = d, best_bic_model = top_bic[1], best_bic_k = as.integer(top_bic[2]),
    best_icl_model = top_icl[1], best_icl_k = as.integer(top_icl[2])
  )
}
# mclust's sign: BIC = 2 loglik - npar log(n), larger is better (ours: -2 loglik + npar log(n), lower is better)
write.csv(do.call(rbind, rows), file.path(here, "mclust_bic.csv"), row.names = FALSE)
write.csv(do.call(rbind, best), file.path(here, "mclust_best.csv"), row.names = FALSE)

# The default conjugate prior (priorControl(): Fraley & Raftery 2007) on faithful at G = 3: mclust fits it for ten
# of the fourteen models (not VEE, EVE, VVE, EVV: their rows say NA). bic: mclust's defaults, whose EM stops at a
# relative change of 1e-5 (short of the optimum for some models); bic_converged: the same EM from the same hc start
# run to a relative change of 1e-12 (emControl(tol = c(1e-12, sqrt(eps))))
x <- as.matrix(read.csv(file.path(here, "faithful.csv")))
prior_bic <- mclustBIC(x, G = 3, modelNames = models, prior = priorControl())
tight <- emControl(tol = c(1e-12, sqrt(.Machine$double.eps)))
converged <- mclustBIC(x, G = 3, modelNames = models, prior = priorControl(), control = tight)
value <- function(b, m) if (m %in% colnames(b)) b["3", m] else NA
write.csv(
  data.frame(model = models, bic = sapply(models, function(m) value(prior_bic, m)),
             bic_converged = sapply(models, function(m) value(converged, m))),
  file.path(here, "mclust_prior_faithful_k3.csv"), row.names = FALSE
)
cat("mclust", format(packageVersion("mclust")), "\n")
