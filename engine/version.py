"""The engine's version (pyproject.toml says the same): in exports and sessions, so that a replay can say when
another version made a file. 0.2.0: the E-step sums in another order and gradient-em draws z by inverse CDF (same
model, other numbers)."""

__version__ = "0.2.0"
