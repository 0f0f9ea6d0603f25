"""The pairs view: a scatter matrix of up to MAX_PAIRS columns, each cell one pair's points coloured by
component with every component's 2-sigma ellipse in that pair's plane (exact: the marginal of the fit), like
mclust's classification plot. The diagonal names the column over its histogram. A click on a cell asks for
that pair as the main view (cell_chosen).

Each cell draws in its own display units (gui.scene.display_map, from its two columns' ranges): data near 1e-140 or
1e145 is drawn as data near 1 is. The cells have no tick values, so the names alone label the matrix: on the
diagonal, over each column's histogram (clipped to the cell, in full on hover), never as axis labels that run
into each other when the cells are small (wine's 13 columns)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QPainterPath
from PySide6.QtWidgets import QGraphicsPathItem

from ..scene.display_map import DisplayMap, map_for
from ..scene.frames import DataScene, Frame, ellipse_rings, padded_bounds
from ..scene.uncertainty import band_rings
from ..scene.weights import point_sides
from .palette import component_color
from .plot_style import no_si_prefix
from .point_cloud import PointCloudItem
from .uncertainty_layer import BAND_ALPHA, CLOUD_ALPHA, CLOUD_SIZE, band_path, cloud_brush

MAX_PAIRS = 8  # columns in the matrix at most (8 x 8 cells)
PAIR_POINTS = 1000  # points drawn per cell (a fixed random sample of the shown points)
# The matrix follows a live fit at most this often: a redraw of all 28 cells at 8 columns takes about the event
# loop's whole budget (measured: docs/performance.md, 'The window').
REDRAW_MS = 300


class PairsView(pg.GraphicsLayoutWidget):
    """Cells (i, j), i > j: column j across, column i up (each pair once); the diagonal holds each column's
    histogram. `show_scene` once per data set and columns, `show_frame` per frame (coalesced: at most one redraw
    every REDRAW_MS, the latest frame). `complete` says when every cell is laid out and the latest frame drawn
    (`completed` is emitted then); `close_down` takes the matrix apart before the view goes."""

    cell_chosen = Signal(int, int)  # (x column, y column) of the clicked cell
    completed = Signal()  # every cell of the matrix laid out, and the latest frame given to show_frame drawn

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setBackground("w")
        self.columns: tuple[int, ...] = ()
        self.cells: dict[tuple[int, int], tuple[pg.PlotItem, PointCloudItem, np.ndarray, list]] = {}
        self.maps: dict[tuple[int, int], DisplayMap] = {}  # each cell's data -> display units
        self._drawn: dict[tuple[int, int], np.ndarray] = {}  # each cell's points in its display units (P, 2)
        self.sample = np.empty(0, dtype=np.int64)
        self._sides: np.ndarray | None = None  # the sampled points' dots' sides in pixels (weighted data), or None
        self._counts: np.ndarray | None = None  # their weights, or None
        # the bootstrap's replicate means (B', K, D) in data units, drawn as each cell's clouds (None: none); the
        # clouds' scatters of each cell, one a component
        self.cloud_means: np.ndarray | None = None
        self._clouds: dict[tuple[int, int], list[pg.ScatterPlotItem]] = {}
        # with the replicates' covariances (B', K, D, D) and the fit's (means (K, D), covariances (K, D, D)): each
        # component's band in each cell, drawn a cell per event-loop turn (_band_next); the cells drawn so far
        self.cloud_covariances: np.ndarray | None = None
        self.cloud_fit: tuple[np.ndarray, np.ndarray] | None = None
        self._bands: dict[tuple[int, int], list[QGraphicsPathItem]] = {}
        self.bands_drawn: set[tuple[int, int]] = set()
        self._band_id, self._band_busy = 0, False
        self.scene_data: DataScene | None = None
        self.scene().sigMouseClicked.connect(self._clicked)
        self._pending: Frame | None = None
        self._to_build: list[tuple[int, int]] = []
        self._built = self._total = 0  # cells made of the matrix's cells (the diagonal included)
        self._build_id = 0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self._draw_pending)

    def show_scene(self, scene: DataScene, names: tuple[str, ...], columns: tuple[int, ...]) -> None:
        """Lay out the matrix for columns (at most MAX_PAIRS) of the scene's data, a cell per event-loop turn
        (making a plot is slow enough that 36 at once would hold the window: docs/performance.md, 'The window');
        points uncoloured until the first frame."""
        self.clear()
        self.cells, self._clouds, self._bands = {}, {}, {}
        self._forget_bands()
        self.maps, self._drawn = {}, {}
        self.scene_data = scene
        self.columns = tuple(columns[:MAX_PAIRS])
        self.names = names
        data = scene.points
        rng = np.random.default_rng(0)
        shown = scene.shown
        pick = np.sort(rng.choice(len(shown), PAIR_POINTS, replace=False)) if len(shown) > PAIR_POINTS else None
        self.sample = np.arange(len(shown)) if pick is None else pick
        self._points = data[shown[self.sample]] if len(shown) else np.empty((0, data.shape[1]))
        self._counts = None if scene.weights is None else scene.weights[shown[self.sample]]  # the diagonal's
        self._sides = None if self._counts is None else point_sides(self._counts)
        self._to_build = [(r, c) for r in range(len(self.columns)) for c in range(r + 1)]  # the lower triangle
        self._built, self._total = 0, len(self._to_build)
        for i in range(len(self.columns)):  # equal cells, whatever each one holds
            self.ci.layout.setColumnStretchFactor(i, 1)
            self.ci.layout.setRowStretchFactor(i, 1)
        self._build_id += 1
        self._build_next(self._build_id)

    @property
    def building(self) -> bool:
        """Cells are still to be made (a cell per event-loop turn)."""
        return bool(self._to_build)

    @property
    def complete(self) -> bool:
        """The matrix is whole: a scene shown, every one of its cells laid out, and no frame waiting to be drawn
        (the latest frame given to show_frame is drawn in every cell). False before show_scene and after
        close_down."""
        return self.scene_data is not None and self._total > 0 and self._built == self._total and self._pending is None

    def close_down(self) -> None:
        """Stop laying out and redrawing, and take the matrix apart now, on the GUI thread: each cell's plot
        closed as pyqtgraph closes its own (its menu let go, its axes' labels and its view box out of the scene:
        an axis without its label resizes safely), then out of the layout and the scene. For the window's
        teardown, before the window is deleted: no cell is left for Qt to take apart with the scene. The view
        stays usable (show_scene lays out a new matrix)."""
        self._build_id += 1  # a cell already scheduled finds itself stale
        self._to_build = []
        self._timer.stop()
        self._pending = None
        self.scene_data = None
        self.cells = {}
        self._built = self._total = 0
        plots = [item for item in list(self.ci.items) if isinstance(item, pg.PlotItem)]
        for plot in plots:
            plot.close()  # in the scene still: it removes its parts from it
        self.ci.clear()

    def _build_next(self, build_id: int) -> None:
        if build_id != self._build_id or not self._to_build:
            return
        row, col = self._to_build.pop(0)
        self._make_cell(row, col)
        self._built += 1
        if self._to_build:
            QTimer.singleShot(0, self, lambda: self._build_next(build_id))  # dropped if the view goes first
            return
        if self._pending is not None:  # the frame that came while the matrix was being laid out
            self._draw_pending()
        else:
            self.completed.emit()

    def _make_cell(self, row: int, col: int) -> None:
        names, points = self.names, self._points
        ci, cj = self.columns[row], self.columns[col]
        plot = self.addPlot(row=row, col=col)
        plot.hideButtons()
        plot.setMenuEnabled(False)
        plot.setMouseEnabled(x=False, y=False)
        for axis in ("left", "bottom"):
            plot.getAxis(axis).setStyle(showValues=False, tickLength=0)
            no_si_prefix(plot.getAxis(axis))  # no "(x0.001)" on an axis that shows no values
        if row == col:
            self._make_diagonal(plot, ci, names[ci] if ci < len(names) else f"x{ci}")
            return
        # the point layer of the main plot: one blit per point, recoloured by NumPy per frame
        xy = np.ascontiguousarray(points[:, [cj, ci]])
        self.maps[(ci, cj)] = display = map_for(padded_bounds(xy))
        self._drawn[(ci, cj)] = display.to_display(xy)
        scatter = PointCloudItem()
        scatter.set_points(self._drawn[(ci, cj)], None, self._sides)
        plot.addItem(scatter)
        plot.setToolTip(
            f"click: {names[cj] if cj < len(names) else cj} against {names[ci] if ci < len(names) else ci} "
            "as the main view"
        )
        self.cells[(ci, cj)] = (plot, scatter, xy, [])

    def _make_diagonal(self, plot: pg.PlotItem, column: int, name: str) -> None:
        """Column `column`'s histogram (in display units; of the weights, for weighted data) with its name at the
        top left, clipped to the cell."""
        values = self._points[:, column]
        counts, edges = (
            np.histogram(values, bins=20, weights=self._counts) if len(values) else (np.zeros(1), np.arange(2.0))
        )
        top = float(max(counts.max(), 1))
        display = map_for((float(edges[0]), float(edges[-1]), 0.0, top))
        x = display.to_display(np.column_stack([edges, np.zeros_like(edges)]))[:, 0]
        plot.addItem(pg.PlotCurveItem(x, counts, stepMode="center", fillLevel=0, brush=(200, 208, 222)))
        label = pg.TextItem(name, color=(40, 40, 40), anchor=(0, 0))
        label.setPos(float(x[0]), top * 1.45)
        plot.addItem(label, ignoreBounds=True)
        plot.setXRange(float(x[0]), float(x[-1]), padding=0.02)
        plot.setYRange(0.0, top * 1.45, padding=0)  # a band above the bars for the name
        plot.setToolTip(name)

    def show_frame(self, frame: Frame) -> None:
        """Draw this frame now if the matrix has not been drawn for REDRAW_MS, else the latest frame then."""
        self._pending = frame
        if not self._timer.isActive() and not self.building:
            self._draw_pending()
            self._timer.start()

    def _draw_pending(self) -> None:
        frame, self._pending = self._pending, None
        if frame is not None:
            self.draw_frame(frame)
        if self.complete:
            self.completed.emit()

    def draw_frame(self, frame: Frame) -> None:
        """Colour each cell's points by their component (in D dimensions) and draw each pair's ellipses."""
        if self.scene_data is None or not self.cells or self.building:
            self._pending = frame
            return
        snap = frame.snapshot
        labels = frame.labels[self.sample] if len(frame.labels) else None
        pens = [pg.mkPen(component_color(k), width=1.5) for k in range(len(snap.weights))]
        for (ci, cj), (plot, scatter, _xy, rings) in self.cells.items():
            scatter.set_points(self._drawn[(ci, cj)], labels, self._sides)
            while len(rings) < len(snap.weights):
                item = pg.PlotCurveItem(connect="finite")
                plot.addItem(item)
                rings.append(item)
            idx = [cj, ci]
            for k, item in enumerate(rings):
                if k >= len(snap.weights):
                    item.setData([], [])
                    continue
                display = self.maps[(ci, cj)]  # the ring in the cell's display units, computed there (no rounding)
                mean = display.to_display(snap.means[k][idx])
                cov = display.covariance_to_display(snap.covariances[k][np.ix_(idx, idx)])
                ring = ellipse_rings(mean, cov, sigmas=(2.0,), n=48)
                item.setPen(pens[k])
                item.setData(ring[:, 0], ring[:, 1])
        self._draw_clouds()

    def set_clouds(
        self,
        means: np.ndarray | None,
        covariances: np.ndarray | None = None,
        fitted: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        """The bootstrap's replicate means (B', K, D) in data units to draw in every cell, or none (None); with the
        replicates' covariances (B', K, D, D) and the fit's (means (K, D), covariances (K, D, D)), each component's
        band around its ellipse too (gui.scene.uncertainty.band_rings in the cell's plane)."""
        if means is not self.cloud_means or covariances is not self.cloud_covariances:
            self._forget_bands()  # another result (or none): its bands are drawn again
        self.cloud_means, self.cloud_covariances, self.cloud_fit = means, covariances, fitted
        self._draw_clouds()

    def _forget_bands(self) -> None:
        """No band drawn: a chain of _band_next still scheduled finds itself stale."""
        self._band_id += 1
        self._band_busy = False
        self.bands_drawn = set()
        for items in self._bands.values():
            for item in items:
                item.setPath(QPainterPath())

    def _draw_bands(self) -> None:
        """Go on drawing the bands of the cells that have none, a cell per event-loop turn: a band takes the
        quantiles of B' rings (docs/performance.md, 'The window'), 28 cells' at once would hold the window."""
        if self.cloud_covariances is None or self.cloud_fit is None or self._band_busy or not self._clouds_fit():
            return
        if any(cell not in self.bands_drawn for cell in self.cells):
            self._band_busy = True
            band_id = self._band_id
            QTimer.singleShot(0, self, lambda: self._band_next(band_id))

    def _band_next(self, band_id: int) -> None:
        if band_id != self._band_id:
            return  # another result, none, or another matrix since: that one's chain draws
        todo = [cell for cell in self.cells if cell not in self.bands_drawn]
        if not todo or self.cloud_covariances is None or self.cloud_fit is None or not self._clouds_fit():
            self._band_busy = False
            return
        self._draw_cell_bands(todo[0])
        self.bands_drawn.add(todo[0])
        QTimer.singleShot(0, self, lambda: self._band_next(band_id))

    def _draw_cell_bands(self, cell: tuple[int, int]) -> None:
        """Cell (ci, cj)'s bands: each component's band_rings of the replicates' marginals in the columns (cj, ci),
        computed in the cell's display units (a per-axis affine map: the band is the mapped band)."""
        idx = [cell[1], cell[0]]  # (cj, ci): column cj across, ci up
        plot, display = self.cells[cell][0], self.maps[cell]
        means, covs, (fit_means, fit_covs) = self.cloud_means, self.cloud_covariances, self.cloud_fit
        items = self._bands.setdefault(cell, [])
        for k in range(len(fit_means)):
            if len(items) <= k:
                item = QGraphicsPathItem()
                item.setPen(pg.mkPen(None))
                item.setZValue(-1)  # under the points and the ellipses, which stay readable through it
                plot.addItem(item, ignoreBounds=True)  # (clipped at the cell's edge: see _draw_clouds)
                items.append(item)
            center = display.to_display(fit_means[k][idx])
            cov = display.covariance_to_display(fit_covs[k][np.ix_(idx, idx)])
            rep_means = display.to_display(means[:, k][:, idx])
            rep_covs = display.covariance_to_display(covs[:, k][:, idx][:, :, idx])
            items[k].setPath(band_path(*band_rings(center, cov, rep_means, rep_covs)))
            items[k].setBrush(cloud_brush(k, BAND_ALPHA))
        for item in items[len(fit_means) :]:
            item.setPath(QPainterPath())

    def _clouds_fit(self) -> bool:
        """Whether the clouds kept are of the matrix's data: hidden, the view keeps the cells of the data it last
        laid out, and clouds of other data (fewer columns) are drawn only once it lays that data out."""
        means, scene = self.cloud_means, self.scene_data
        return means is not None and scene is not None and means.shape[-1] == scene.points.shape[1]

    def _draw_clouds(self) -> None:
        """Each cell's clouds: component k's replicate means in the cell's pair of columns, in its colour."""
        means = self.cloud_means if self._clouds_fit() else None
        k = 0 if means is None else means.shape[1]
        for (ci, cj), (plot, *_rest) in self.cells.items():
            clouds = self._clouds.setdefault((ci, cj), [])
            while len(clouds) < k:
                cloud = pg.ScatterPlotItem(size=CLOUD_SIZE - 1, pen=None)
                # the cell's range follows its points and the fit's ellipses, not the replicates: a few far out
                # (a component lost in a resample) squashed every cell's data to a corner; they are clipped
                plot.addItem(cloud, ignoreBounds=True)
                clouds.append(cloud)
            for j, cloud in enumerate(clouds):
                if j < k:
                    xy = self.maps[(ci, cj)].to_display(means[:, j][:, [cj, ci]])
                    cloud.setData(pos=xy, brush=cloud_brush(j, CLOUD_ALPHA))
                else:
                    cloud.setData([], [])
        self._draw_bands()

    def _clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        for (ci, cj), (plot, *_) in self.cells.items():
            if plot.sceneBoundingRect().contains(event.scenePos()):
                self.cell_chosen.emit(cj, ci)
                return
