"""Model selection and restarts compared: the BIC/AIC grid, restarts grouped into solutions, the gallery."""
