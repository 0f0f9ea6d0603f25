"""Fitting: the procedures (exact EM, gradient-em, marginal), starts, the fit loop in memory, by chunks and
for a model-selection grid, and the judgement of degenerate components."""
