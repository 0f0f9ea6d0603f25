"""Model selection and restarts compared: the BIC/AIC grid, restarts grouped into solutions, the gallery; the
bootstrap of a fit (standard errors and intervals)."""
