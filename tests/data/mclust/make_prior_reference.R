# mclust's numbers for the tests of the default conjugate prior (issue 24). Run once, from the repository root:
#   Rscript tests/data/mclust/make_prior_reference.R
# (R 4.x, mclust 6.0.0, jsonlite). It writes tests/data/mclust/prior_reference.json; the tests read it and never
# need R. Data: faithful.csv (R's faithful, written by make_reference.R). z: a random responsibility matrix
# (set.seed(24), rows normalised) and the hc start of mclustBIC(G = 3) (mclust's defaults: VVV on the SVD data).
# Keys: prior (defaultPrior, the fourteen), mstep (mstep() from z), mstep_tight (the same, inner loops to 1e-14),
# me_once (me() stopped after its first M-step: the M-step of mclust's EM, which differs from mstep() for EII,
# EEI, EVI and EEV), me (me() from z: loglik, the plain log-likelihood at its parameters), select (mclustBIC's BIC
# and me() from its hc start), iris (the 4-D check's data, z, prior, mstep and me_once).
suppressPackageStartupMessages({
  library(mclust)
  library(jsonlite)
})
here <- "tests/data/mclust"
x <- as.matrix(read.csv(file.path(here, "faithful.csv")))
n <- nrow(x)
G <- 3
set.seed(24)
z <- matrix(runif(n * G), n, G)
z <- z / rowSums(z)
families <- c("EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE", "VEE", "EVE", "VVE", "EEV", "VEV", "EVV", "VVV")
with_prior <- c("EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE", "EEV", "VEV", "VVV")
tight <- emControl(tol = c(1e-5, 1e-14))  # the inner loops (VEI, VEV) run to convergence

params <- function(fit) {
  list(
    pro = fit$parameters$pro, mean = unname(t(fit$parameters$mean)),  # (G, D)
    sigma = lapply(seq_len(G), function(k) unname(fit$parameters$variance$sigma[, , k]))  # G of (D, D)
  )
}
priors <- lapply(families, function(m) {
  p <- defaultPrior(x, G = G, modelName = m)
  list(shrinkage = p$shrinkage, mean = unname(p$mean), dof = p$dof, scale = unname(p$scale))
})
names(priors) <- families

one_step <- emControl(itmax = c(1, .Machine$integer.max), tol = c(1e-5, 1e-14))  # me's own M-step, once
mstep_default <- list()
me_once <- list()
mstep_tight <- list()
me_fit <- list()
for (m in with_prior) {
  mstep_default[[m]] <- params(mstep(x, modelName = m, z = z, prior = priorControl()))
  mstep_tight[[m]] <- params(mstep(x, modelName = m, z = z, prior = priorControl(), control = tight))
  me_once[[m]] <- params(me(x, modelName = m, z = z, prior = priorControl(), control = one_step))
  fit <- me(x, modelName = m, z = z, prior = priorControl())
  me_fit[[m]] <- c(params(fit), list(
    loglik = fit$loglik, iterations = unname(attr(fit, "info")[1]), z = unname(fit$z),
    # the plain log-likelihood of the data at the MAP parameters (no log prior): equal to me's loglik
    plain_loglik = estep(x, modelName = m, parameters = fit$parameters)$loglik
  ))
}

bic <- mclustBIC(x, G = G, modelNames = with_prior, prior = priorControl())
hc_z <- unmap(hclass(attr(bic, "initialization")$hcPairs, G)[, 1], groups = 1:G)
# the BIC grid's fits, each refitted from the hc start as mclustBIC does (summary's parameters)
select_fit <- list()
for (m in with_prior) {
  fit <- me(x, modelName = m, z = hc_z, prior = priorControl())
  select_fit[[m]] <- c(params(fit), list(
    loglik = fit$loglik, iterations = unname(attr(fit, "info")[1]), bic = bic["3", m],
    n_parameters = nMclustParams(m, ncol(x), G)
  ))
}

# a second check of the formulas' dependence on D, G, the degrees of freedom and the shrinkage: iris (D = 4),
# G = 4, a strong shrinkage and more degrees of freedom than the default's D + 2 (a prior function of our own)
iris_x <- as.matrix(iris[, 1:4])
iris_G <- 4
set.seed(25)
iris_z <- matrix(runif(nrow(iris_x) * iris_G), nrow(iris_x), iris_G)
iris_z <- iris_z / rowSums(iris_z)
irisPrior <- function(data, G, modelName, ...) {
  p <- defaultPrior(data, G = G, modelName = modelName, shrinkage = 0.5)
  p$dof <- p$dof + 3.5
  p
}
iris_control <- priorControl(functionName = "irisPrior")
iris_prior <- lapply(with_prior, function(m) {
  p <- irisPrior(iris_x, G = iris_G, modelName = m)
  list(shrinkage = p$shrinkage, mean = unname(p$mean), dof = p$dof, scale = unname(p$scale))
})
names(iris_prior) <- with_prior
iris_mstep <- lapply(with_prior, function(m) {
  fit <- mstep(iris_x, modelName = m, z = iris_z, prior = iris_control, control = tight)
  list(
    pro = fit$parameters$pro, mean = unname(t(fit$parameters$mean)),
    sigma = lapply(seq_len(iris_G), function(k) unname(fit$parameters$variance$sigma[, , k]))
  )
})
names(iris_mstep) <- with_prior
iris_me_once <- lapply(with_prior, function(m) {
  fit <- me(iris_x, modelName = m, z = iris_z, prior = iris_control, control = one_step)
  list(
    pro = fit$parameters$pro, mean = unname(t(fit$parameters$mean)),
    sigma = lapply(seq_len(iris_G), function(k) unname(fit$parameters$variance$sigma[, , k]))
  )
})
names(iris_me_once) <- with_prior

out <- list(
  mclust_version = format(packageVersion("mclust")), G = G, z = unname(z), hc_z = unname(hc_z),
  prior = priors, mstep = mstep_default, mstep_tight = mstep_tight, me_once = me_once, me = me_fit, select = select_fit,
  em_tol = emControl()$tol,
  iris = list(x = unname(iris_x), z = unname(iris_z), prior = iris_prior, mstep = iris_mstep, me_once = iris_me_once)
)
write_json(out, file.path(here, "prior_reference.json"), digits = NA, auto_unbox = TRUE, pretty = FALSE)
cat("mclust", format(packageVersion("mclust")), "\n")
