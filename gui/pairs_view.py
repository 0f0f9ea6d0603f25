"""The pairs view: a scatter matrix of up to MAX_PAIRS columns, each cell one pair's points coloured by
component with every component's 2-sigma ellipse in that pair's plane (exact: the marginal of the fit), like
mclust's classification plot. The diagonal names the column over its histogram. A click on a cell asks for
that pair as the main view (cell_chosen)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal

from .frames import DataScene, Frame, ellipse_rings
from .palette import UNFITTED, component_color

MAX_PAIRS = 8  # columns in the matrix at most (8 x 8 cells)
PAIR_POINTS = 2000  # points drawn per cell (a fixed random sample of the shown points)


class PairsView(pg.GraphicsLayoutWidget):
    """Cells (i, j), i > j: column j across, column i up. `show_scene` once per data set, `show_frame` per frame."""

    cell_chosen = Signal(int, int)  # (x column, y column) of the clicked cell

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setBackground("w")
        self.columns: tuple[int, ...] = ()
        self.cells: dict[tuple[int, int], tuple[pg.PlotItem, pg.ScatterPlotItem, list]] = {}
        self.sample = np.empty(0, dtype=np.int64)
        self.scene_data: DataScene | None = None
        self.scene().sigMouseClicked.connect(self._clicked)

    def show_scene(self, scene: DataScene, names: tuple[str, ...], columns: tuple[int, ...]) -> None:
        """Lay out the matrix for columns (at most MAX_PAIRS) of the scene's data; points uncoloured."""
        self.clear()
        self.cells = {}
        self.scene_data = scene
        self.columns = tuple(columns[:MAX_PAIRS])
        data = scene.points
        rng = np.random.default_rng(0)
        shown = scene.shown
        pick = np.sort(rng.choice(len(shown), PAIR_POINTS, replace=False)) if len(shown) > PAIR_POINTS else None
        self.sample = np.arange(len(shown)) if pick is None else pick
        points = data[shown[self.sample]] if len(shown) else np.empty((0, data.shape[1]))
        n = len(self.columns)
        for row, ci in enumerate(self.columns):
            for col, cj in enumerate(self.columns):
                plot = self.addPlot(row=row, col=col)
                plot.hideButtons()
                plot.setMenuEnabled(False)
                plot.setMouseEnabled(x=False, y=False)
                for axis in ("left", "bottom"):
                    plot.getAxis(axis).setStyle(showValues=False, tickLength=0)
                if col == 0:
                    plot.setLabel("left", names[ci] if ci < len(names) else str(ci))
                if row == n - 1:
                    plot.setLabel("bottom", names[cj] if cj < len(names) else str(cj))
                if row == col:
                    counts, edges = np.histogram(points[:, ci], bins=20) if len(points) else (np.zeros(1), np.arange(2))
                    plot.addItem(pg.PlotCurveItem(edges, counts, stepMode="center", fillLevel=0, brush=(200, 208, 222)))
                    continue
                scatter = pg.ScatterPlotItem(size=3, pen=None, brush=pg.mkBrush(UNFITTED))
                scatter.setData(points[:, cj], points[:, ci])
                plot.addItem(scatter)
                plot.setToolTip(
                    f"click: {names[cj] if cj < len(names) else cj} against "
                    f"{names[ci] if ci < len(names) else ci} as the main view"
                )
                self.cells[(ci, cj)] = (plot, scatter, [])

    def show_frame(self, frame: Frame) -> None:
        """Colour each cell's points by their component (in D dimensions) and draw each pair's ellipses."""
        if self.scene_data is None or not self.cells:
            return
        snap = frame.snapshot
        labels = frame.labels[self.sample] if len(frame.labels) else None
        brushes = None
        if labels is not None:
            palette = [pg.mkBrush(component_color(k)) for k in range(len(snap.weights))]
            brushes = [palette[k] for k in labels]
        for (ci, cj), (plot, scatter, rings) in self.cells.items():
            if brushes is not None:
                scatter.setBrush(brushes)
            while len(rings) < len(snap.weights):
                item = pg.PlotCurveItem(connect="finite")
                plot.addItem(item)
                rings.append(item)
            idx = [cj, ci]
            for k, item in enumerate(rings):
                if k >= len(snap.weights):
                    item.setData([], [])
                    continue
                ring = ellipse_rings(snap.means[k][idx], snap.covariances[k][np.ix_(idx, idx)], sigmas=(2.0,), n=48)
                item.setPen(pg.mkPen(component_color(k), width=1.5))
                item.setData(ring[:, 0], ring[:, 1])

    def _clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        for (ci, cj), (plot, _, _) in self.cells.items():
            if plot.sceneBoundingRect().contains(event.scenePos()):
                self.cell_chosen.emit(cj, ci)
                return
