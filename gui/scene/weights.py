"""The points' frequency weights in the window (issue 25): a file's column chosen in the column picker, never a
fitted column. No Qt here: the record the window keeps with the data, and the dots' sizes drawn from it.

The weights count each point (weight 2 = the point twice, 0 = it does not count): the fits, model selection,
the exports and the sessions take them as `fit --weights COLUMN` does (engine/io/weighted.py checks them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# A dot's side in pixels (its area is proportional to its weight): the typical point (the median positive weight)
# is drawn 4 px wide, a little more than an unweighted dot's 3 (so that a point of half the median weight is still
# 2.8 px, above the 2 px floor), and the sides are clamped so that a tiny weight stays visible and a huge one does
# not hide its neighbours.
TYPICAL_PX = 4.0
SMALLEST_PX = 2.0
LARGEST_PX = 14.0
HOLLOW_PX = 5  # a point of weight 0: a hollow square this wide (it is there, and counts for nothing)


@dataclass(frozen=True, eq=False)
class Weights:
    """values (N,) float64 >= 0, not all 0 (checked by the engine when read); column: its place in the file (from
    0); name: its header name (x<j> without a header)."""

    values: np.ndarray
    column: int
    name: str

    @property
    def total(self) -> float:
        """sum w: the number of points the fit counts (the n of BIC)."""
        return float(self.values.sum())

    def describe(self) -> str:
        """The data panel's line: 'weights: COLUMN (sum W)'."""
        return f"weights: {self.name} (sum {self.total:,.10g})"


def point_sides(weights: np.ndarray) -> np.ndarray:
    """Each dot's side in pixels (S,) for the weights of the shown points (S,): the area proportional to the
    weight, the median positive weight drawn TYPICAL_PX wide, clamped to [SMALLEST_PX, LARGEST_PX]; a weight of 0
    is 0 (drawn as a small hollow marker: the point is there but does not count)."""
    w = np.asarray(weights, dtype=np.float64)
    positive = w[w > 0]
    if not len(positive):
        return np.zeros(len(w))
    sides = TYPICAL_PX * np.sqrt(w / float(np.median(positive)))
    return np.where(w > 0, np.clip(sides, SMALLEST_PX, LARGEST_PX), 0.0)
