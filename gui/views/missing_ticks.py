"""The plot's ticks for points with a missing coordinate (gui.scene.missing): a point missing its y is a short
vertical tick on the bottom margin at its x, one missing its x a short horizontal tick on the left margin at its y.
The margins are the scene's padding (gui.scene.frames.padded_bounds), below and left of every drawn point."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

TICK_PEN = pg.mkPen(34, 34, 34, width=1.5)  # near black: apart from the grey points and every component colour
TICK_SHARE = 0.04  # a tick's length, as a share of the view's span on its axis


def tick_lines(ticks, bounds: tuple[float, float, float, float]) -> tuple[np.ndarray, np.ndarray]:
    """The ticks as pairs of line ends x (2T,), y (2T,) in data units, for a PlotCurveItem(connect="pairs"):
    ticks: gui.scene.missing.MissingTicks; bounds (xmin, xmax, ymin, ymax): the scene's, padded."""
    x0, x1, y0, y1 = bounds
    a, b = len(ticks.x_values), len(ticks.y_values)
    xs = np.concatenate([np.repeat(ticks.x_values, 2), np.tile([x0, x0 + TICK_SHARE * (x1 - x0)], b)])
    ys = np.concatenate([np.tile([y0, y0 + TICK_SHARE * (y1 - y0)], a), np.repeat(ticks.y_values, 2)])
    return xs, ys


def tick_feet(ticks, bounds: tuple[float, float, float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Where the ticks meet the plot's edges (T, 2) in data units (where the hover finds them), and their rows (T,)."""
    x0, _, y0, _ = bounds
    bottom = np.column_stack([ticks.x_values, np.full(len(ticks.x_values), y0)])
    left = np.column_stack([np.full(len(ticks.y_values), x0), ticks.y_values])
    return np.concatenate([bottom, left]), np.concatenate([ticks.x_rows, ticks.y_rows])


def tick_item() -> pg.PlotCurveItem:
    """The one item that draws every tick (made only once data with missing values is shown)."""
    item = pg.PlotCurveItem(connect="pairs", pen=TICK_PEN)
    item.setZValue(1)  # over the points, under the contours and ellipses
    return item
