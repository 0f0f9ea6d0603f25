"""The mixture model and its arithmetic: covariance types, the Gaussian E-step, standardisation, the Pyro
model, predictions and exact 2-D projections of the data. Below the settings and every algorithm."""
