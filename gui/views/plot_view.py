"""The central plot: points coloured by component, means, 1/2/3-sigma ellipses, density contours.

Every item is created once and then only updated with setData (the ellipse items grow as a pool when K
grows). Points are drawn by `PointCloudItem` (see there: ~4x cheaper to paint than a wide-pen drawPoints,
~30x cheaper to update than pyqtgraph's ScatterPlotItem).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pyqtgraph.functions as fn
from pyqtgraph.Qt.internals import PrimitiveArray
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPixmap

from ..scene.display_map import IDENTITY, DisplayMap
from ..scene.frames import SIGMAS, DataScene, Frame, ellipse_rings
from .palette import UNFITTED, component_color

POINT_PX = 3  # point size in pixels
HOVER_PX = 8  # how near (pixels) the cursor must be to a point to describe it
SPRAY_PX = 12  # radius of the spray when dragging in draw mode


class PointCloudItem(pg.GraphicsObject):
    """Points as square dots coloured by group, blitted from a tiny atlas with drawPixmapFragments.

    Setting the points is NumPy and painting them one blit per point: QPainter.drawPoints with a wide pen
    paints several times slower, and ScatterPlotItem.setData runs Python per point (bench/bench_gui_stall.py).
    """

    def __init__(self) -> None:
        super().__init__()
        self._xy = np.empty((0, 2))
        self._colour_index = np.empty(0, dtype=np.int64)
        self._colours: list[QColor] = []
        self._atlas: QPixmap | None = None
        self._atlas_dpr = 0.0
        self._fragments = PrimitiveArray(QPainter.PixmapFragment, 10)
        self._rect = QRectF()
        self._key: tuple | None = None
        # Repaints caused by other items (ellipses, contours) blit a cached pixmap instead of redrawing
        # every point; the cache is redrawn only when the points, their colours or the view change.
        self.setCacheMode(pg.QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)

    def set_points(self, xy: np.ndarray, labels: np.ndarray | None) -> None:
        """xy (S, 2); labels (S,) component of each point, or None for one neutral colour."""
        key = (id(xy), len(xy), None if labels is None else labels.tobytes())
        if key == self._key:
            return  # same points, same colours: keep the cached drawing
        self._key = key
        self.prepareGeometryChange()
        self._xy = np.asarray(xy, dtype=np.float64)
        if labels is None or len(labels) != len(xy):
            self._colour_index = np.zeros(len(xy), dtype=np.int64)
            colours = [UNFITTED]
        else:
            self._colour_index = np.asarray(labels, dtype=np.int64)
            colours = [component_color(k) for k in range(int(labels.max(initial=0)) + 1)]
        if [c.rgba() for c in colours] != [c.rgba() for c in self._colours]:
            self._colours = colours
            self._atlas = None
        if len(xy):
            lo, hi = xy.min(axis=0), xy.max(axis=0)
            self._rect = QRectF(lo[0], lo[1], max(hi[0] - lo[0], 1e-12), max(hi[1] - lo[1], 1e-12))
        else:
            self._rect = QRectF()
        self.update()

    def boundingRect(self) -> QRectF:
        return self._rect

    def _atlas_for(self, dpr: float) -> QPixmap:
        """One POINT_PX square per colour, side by side, at the device's pixel ratio."""
        if self._atlas is None or dpr != self._atlas_dpr:
            size = int(round(POINT_PX * dpr))
            atlas = QPixmap(size * max(len(self._colours), 1), size)
            atlas.fill(Qt.GlobalColor.transparent)
            painter = QPainter(atlas)
            for k, colour in enumerate(self._colours):
                painter.fillRect(k * size, 0, size, size, colour)
            painter.end()
            atlas.setDevicePixelRatio(dpr)
            self._atlas, self._atlas_dpr = atlas, dpr
        return self._atlas

    def paint(self, painter: QPainter, option, widget=None) -> None:
        if not len(self._xy):
            return
        dpr = widget.devicePixelRatioF() if widget is not None else 1.0
        atlas = self._atlas_for(dpr)
        size = int(round(POINT_PX * dpr))
        centres = fn.transformCoordinates(painter.transform(), self._xy.T)  # device pixels (2, S)
        painter.resetTransform()
        self._fragments.resize(len(self._xy))
        frags = self._fragments.ndarray()
        frags[:, 0:2] = np.clip(centres.T, -(2.0**30), 2.0**30)  # target centre (Qt crashes on huge values)
        frags[:, 2] = self._colour_index * size  # source rect in the atlas: x, y, w, h
        frags[:, 3] = 0
        frags[:, 4:6] = size
        frags[:, 6:10] = [1 / dpr, 1 / dpr, 0.0, 1.0]  # scale x, scale y, rotation, opacity
        painter.drawPixmapFragments(*self._fragments.drawargs(), atlas)


class DrawingViewBox(pg.ViewBox):
    """A ViewBox that, in draw mode, adds a point per click and sprays points while dragging. Its coordinates
    are display units (gui.scene.display_map); `display` maps them to the data units the points are emitted in."""

    points_drawn = Signal(object)  # (M, 2) new points in data units

    def __init__(self) -> None:
        super().__init__()
        self.draw_mode = False
        self.display: DisplayMap = IDENTITY
        self._rng = np.random.default_rng()

    def mouseClickEvent(self, ev) -> None:
        if self.draw_mode and ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            p = self.mapSceneToView(ev.scenePos())
            self.points_drawn.emit(self.display.to_data(np.array([[p.x(), p.y()]])))
            return
        super().mouseClickEvent(ev)

    def mouseDragEvent(self, ev, axis=None) -> None:
        if self.draw_mode and ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            p = self.mapSceneToView(ev.scenePos())
            sx, sy = self.viewPixelSize()
            offsets = self._rng.normal(scale=SPRAY_PX / 2.0, size=(3, 2)) * [sx, sy]
            self.points_drawn.emit(self.display.to_data(np.array([p.x(), p.y()]) + offsets))
            return
        super().mouseDragEvent(ev, axis)


class PlotView(pg.PlotWidget):
    """The main plot. `show_scene` when the data changes, `show_frame` for every snapshot frame."""

    hovered = Signal(object)  # index into the scene's points, or None
    start_edited = Signal(object, object, object)  # weights (K,), means (K, 2), covariances (K, 2, 2)

    def __init__(self, parent=None) -> None:
        self.view_box = DrawingViewBox()
        super().__init__(parent, viewBox=self.view_box)
        self.setBackground("w")
        add_light_grid(self)
        for axis in ("left", "bottom"):  # a view's axes are in data units: no "(x0.001)" rescaling
            no_si_prefix(self.plotItem.getAxis(axis))
        self.scene_data: DataScene | None = None
        self.frame: Frame | None = None
        # data units -> the units every item is drawn in (gui.scene.display_map); the scene's, set by show_scene
        self.display: DisplayMap = IDENTITY
        self._shown_display = np.empty((0, 2))  # the scene's shown points in display units (S, 2)
        self.axis_names: tuple[str, str] = ("x", "y")  # the axes' names, without the display offset
        self.image = pg.ImageItem()
        self.image.setLookupTable(_density_lut())
        # 1-D data: its density histogram (the points are a rug below it)
        self.histogram = pg.PlotCurveItem(
            x=np.zeros(1),
            y=np.zeros(0),
            stepMode="center",
            fillLevel=0,
            brush=pg.mkBrush(200, 208, 222),
            pen=pg.mkPen(150, 160, 180),
        )
        self.histogram.setZValue(-10)
        self.addItem(self.histogram)
        self.points = PointCloudItem()
        self.contours = pg.PlotCurveItem(connect="finite", pen=_CONTOUR_PEN)
        self.ellipses: list[pg.PlotCurveItem] = []
        self.trajectories: list[pg.PlotCurveItem] = []  # each mean's path from its start, one item per component
        self.starts = pg.ScatterPlotItem(symbol="o", size=9, brush=None)  # where each mean started
        self.starts.setZValue(15)
        self.addItem(self.starts)
        self.show_trajectories = True
        self.shown_sigmas: set[float] = set(SIGMAS)  # which of the 1, 2, 3-sigma rings are drawn
        self.show_contours = True
        self.means = pg.ScatterPlotItem(symbol="+", size=18, pen=pg.mkPen("k", width=1.5))
        self.hover_marker = pg.ScatterPlotItem(symbol="o", size=12, brush=None, pen=pg.mkPen("k", width=2))
        self.hover_text = pg.TextItem(
            anchor=(0, 1), color=(20, 20, 20), fill=pg.mkBrush(255, 255, 255, 235), border="k"
        )
        for item, z in (
            (self.image, -20),
            (self.points, 0),
            (self.contours, 5),
            (self.means, 20),
            (self.hover_marker, 30),
            (self.hover_text, 40),
        ):
            item.setZValue(z)
            self.addItem(item)
        self.hover_text.hide()
        self.hovered_index: int | None = None
        self.column_names: tuple[str, ...] = ()  # the data's column names (all D of them)
        self.handles: list = []
        self.edit_mode = False
        self.scene().sigMouseMoved.connect(self._mouse_moved)

    # ------------------------------------------------------------------ data and frames
    def show_scene(self, scene: DataScene, axis_names: tuple[str, ...] = ("x", "y"), keep_range: bool = False) -> None:
        """New data: draw its points (uncoloured), its density image when sampled, no fit, and frame it.

        keep_range (points drawn by hand): the view stays where it is and only grows to show every point, so
        that the next click lands where the user aims. A data set of fewer than two distinct positions never
        zooms in on itself (its bounds would be ~1e-9 wide).
        """
        self.scene_data = scene
        self.column_names = tuple(axis_names) if len(axis_names) == scene.n_features else ()
        if scene.view is not None:
            axis_names = scene.view.labels
        old_display, self.display = self.display, scene.display
        self.view_box.display = self.display
        self._set_axes((axis_names[0], "density" if scene.one_d else axis_names[1]))
        self.frame = None
        if scene.one_d:
            edges, density = scene.histogram
            self.histogram.setData(*self._mapped(edges, density))
            self.histogram.show()
        else:
            self.histogram.hide()
        if scene.image is not None:
            x0, x1, y0, y1 = self._display_bounds(scene.bounds)
            self.image.setImage(scene.image, levels=(0.0, 1.0), autoLevels=False)
            self.image.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
            self.image.show()
        else:
            self.image.hide()
        self._shown_display = self.display.to_display(scene.shown_points)
        self.points.set_points(self._shown_display, None)
        self.contours.setData([], [])
        for item in self.ellipses:
            item.setData([], [])
        self.means.setData([], [])
        self.starts.setData([], [])
        for item in self.trajectories:
            item.setData([], [])
        self._hide_hover()
        self._frame_scene(scene, keep_range, old_display)

    def _set_axes(self, names: tuple[str, str]) -> None:
        """Label the axes with their names (and the display offset) and tick them in data units."""
        self.axis_names = names
        for i, side in enumerate(("bottom", "left")):
            self.plotItem.getAxis(side).setScale(self.display.unit[i])
            self.setLabel(side, self.display.label(i, names[i]))

    def _mapped(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """x, y in data units -> display units (each on its own axis: a step histogram's x has one more value)."""
        if self.display.identity:
            return x, y
        (ox, oy), (ux, uy) = self.display.offset, self.display.unit
        return (np.asarray(x, dtype=np.float64) - ox) / ux, (np.asarray(y, dtype=np.float64) - oy) / uy

    def _display_bounds(self, bounds: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        """(xmin, xmax, ymin, ymax) in data units -> display units."""
        return (*self.display.range_to_display(0, *bounds[:2]), *self.display.range_to_display(1, *bounds[2:]))

    def _frame_scene(self, scene: DataScene, keep_range: bool, old_display: DisplayMap) -> None:
        """Frame the scene, in display units (the range on screen taken from the old scene's units to the new)."""
        (vx0, vx1), (vy0, vy1) = self.view_box.viewRange()
        if old_display != self.display:  # the same range in the new units (the rules below may keep it)
            (vx0, vx1), (vy0, vy1) = (
                self.display.range_to_display(i, *old_display.range_to_data(i, *r))
                for i, r in enumerate(((vx0, vx1), (vy0, vy1)))
            )
            self.setRange(xRange=(vx0, vx1), yRange=(vy0, vy1), padding=0)
        pts = self._shown_display if scene.view is None or scene.view.columns != (0, 1) else scene.points
        if len(pts) == 0:
            return  # nothing to frame: the view stays (the range before Clear)
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        if pts is scene.points:  # all the data, not only the shown points: its extremes in display units
            lo, hi = self.display.to_display(lo[:2]), self.display.to_display(hi[:2])
        degenerate = np.any(hi - lo <= 1e-6 * np.maximum(np.abs(hi), 1.0))
        if keep_range or degenerate:
            inside = vx0 <= lo[0] and hi[0] <= vx1 and vy0 <= lo[1] and hi[1] <= vy1
            sensible = (vx1 - vx0) > 1e-6 * max(abs(vx0), 1.0) and (vy1 - vy0) > 1e-6 * max(abs(vy0), 1.0)
            if inside and sensible:
                return
            if degenerate and not sensible:  # a first point on a fresh view: a unit window around it
                cx, cy = (lo + hi) / 2
                self.setRange(xRange=(cx - 5, cx + 5), yRange=(cy - 5, cy + 5), padding=0)
                return
            x0, x1, y0, y1 = self._display_bounds(scene.bounds)
            self.setRange(xRange=(min(x0, vx0), max(x1, vx1)), yRange=(min(y0, vy0), max(y1, vy1)), padding=0)
            return
        x0, x1, y0, y1 = self._display_bounds(scene.bounds)
        self.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)

    def show_frame(self, frame: Frame) -> None:
        """Draw a snapshot's frame: setData on items that already exist."""
        self.frame = frame
        snap = frame.snapshot
        k = len(snap.weights)
        if self.scene_data is not None:
            self.points.set_points(self._shown_display, frame.labels)
        while len(self.ellipses) < k:  # grow the pool once per new largest K
            item = pg.PlotCurveItem(connect="finite")
            item.setZValue(10)
            self.addItem(item)
            self.ellipses.append(item)
        states = frame.states or ()
        for j, item in enumerate(self.ellipses):
            if j < k:
                rings = self.visible_rings(self._display_rings(frame, j))
                item.setPen(_ellipse_pen(j, states[j].state if j < len(states) else "ok"))
                item.setData(rings[:, 0], rings[:, 1])
            else:
                item.setData([], [])
        self._show_trajectories(frame.trajectory, k)
        one_d = self.scene_data is not None and self.scene_data.one_d
        self.contours.setPen(_MIXTURE_PEN if one_d else _CONTOUR_PEN)
        if len(frame.contours) and (self.show_contours or one_d):  # in 1-D it is the mixture's density curve
            self.contours.setData(*self._mapped(frame.contours[:, 0], frame.contours[:, 1]))
        else:
            self.contours.setData([], [])
        self.means.setData(
            pos=self.display.to_display(frame.view_means if frame.view_means is not None else snap.means),
            brush=[component_color(j) for j in range(k)],
            pen=[pg.mkPen(component_color(j).darker(160), width=3) for j in range(k)],
        )
        if self.hovered_index is not None:
            self._describe(self.hovered_index)
        if getattr(self, "edit_mode", False):
            self._show_handles()

    def _display_rings(self, frame: Frame, k: int) -> np.ndarray:
        """Component k's rings in display units (1-D: its density curve). Computed there from the view's mean and
        covariance, not mapped from the frame's: 1e8 + a ring of radius 1e-4 rounds to 1e-4 of its radius."""
        if frame.view_covariances is None or self.display.identity:
            rings = frame.ellipses[k]
            return rings if self.display.identity else self.display.to_display(rings)
        mean = self.display.to_display(frame.view_means[k])
        return ellipse_rings(mean, self.display.covariance_to_display(frame.view_covariances[k]))

    def visible_rings(self, rings: np.ndarray) -> np.ndarray:
        """The rings (len(SIGMAS) * (n + 1), 2) of one component, keeping the sigmas that are switched on (in
        1-D: the component's density curve, always drawn)."""
        if self.scene_data is not None and self.scene_data.one_d:
            return rings
        per_ring = len(rings) // len(SIGMAS)
        keep = [rings[i * per_ring : (i + 1) * per_ring] for i, s in enumerate(SIGMAS) if s in self.shown_sigmas]
        return np.concatenate(keep) if keep else np.empty((0, 2))

    def set_overlays(
        self, sigmas: set[float] | None = None, contours: bool | None = None, paths: bool | None = None
    ) -> None:
        """Switch the 1/2/3-sigma ellipses, the density contours and the means' paths on or off; redraw."""
        if sigmas is not None:
            self.shown_sigmas = set(sigmas)
        if contours is not None:
            self.show_contours = contours
        if paths is not None:
            self.show_trajectories = paths
        if self.frame is not None:
            self.show_frame(self.frame)

    def leaveEvent(self, event) -> None:  # the mouse left the plot: no tooltip stays behind
        self._hide_hover()
        super().leaveEvent(event)

    # ------------------------------------------------------------------ setting the start by hand
    def set_edit_mode(self, on: bool) -> None:
        """Handles on each mean (drag to move it) and on each 2-sigma ellipse's major axis tip (drag to turn
        and stretch it); releasing a handle sets the start (start_edited)."""
        self.edit_mode = on
        self._show_handles()

    def _show_handles(self) -> None:
        for handle in self.handles:
            self.removeItem(handle)
        self.handles = []
        if not getattr(self, "edit_mode", False) or self.frame is None or self.scene_data is None:
            return
        frame, snap = self.frame, self.frame.snapshot
        one_d = self.scene_data.one_d
        # the handles work on the mixture as the view shows it; _emit_start lifts the change to D dimensions
        if one_d:
            view_cov = snap.covariances[:, :1, :1].copy()
        else:
            view_cov = frame.view_covariances.copy()
        self._edit = [snap.weights.copy(), frame.view_means.copy(), view_cov]
        self._edited: dict[int, set[str]] = {}  # component -> what was dragged ("mean", "axis")
        for k in range(len(snap.weights)):
            colour = component_color(k)
            mean = pg.TargetItem(
                pos=tuple(self.display.to_display(self._edit[1][k])),
                size=16,
                symbol="o",
                movable=True,
                pen=pg.mkPen(colour.darker(150), width=2),
                brush=pg.mkBrush(255, 255, 255, 160),
            )
            tip = pg.TargetItem(
                pos=tuple(self.display.to_display(self._tip(k))),
                size=11,
                symbol="s",
                movable=True,
                pen=pg.mkPen(colour.darker(150), width=2),
                brush=pg.mkBrush(colour),
            )
            mean.setToolTip(f"component {k}: drag to move its mean" + (" (in this view's plane)" if not one_d else ""))
            tip.setToolTip(
                f"component {k}: drag to " + ("widen or narrow it" if one_d else "turn and stretch its ellipse")
            )
            for handle, kind in ((mean, "mean"), (tip, "axis")):
                handle.setZValue(50)
                handle.sigPositionChanged.connect(lambda h, k=k, kind=kind: self._handle_moved(k, kind, h))
                handle.sigPositionChangeFinished.connect(lambda _h: self._emit_start())
                self.addItem(handle)
                self.handles.append(handle)

    def _tip(self, k: int) -> np.ndarray:
        """Where component k's shape handle sits: the 2-sigma ellipse's major axis tip (1-D: the curve at 2 sigma)."""
        w, m, c = self._edit
        if self.scene_data.one_d:
            sd = float(np.sqrt(c[k, 0, 0]))
            return np.array([m[k, 0] + 2.0 * sd, w[k] * np.exp(-2.0) / (np.sqrt(2 * np.pi) * sd)])
        return axis_tip(m[k], c[k])

    def _handle_moved(self, k: int, kind: str, handle) -> None:
        """Preview: move or reshape component k's ellipse (1-D: its curve) as its handle moves."""
        w, m, c = self._edit
        p = self.display.to_data(np.array([handle.pos().x(), handle.pos().y()]))  # the handle is in display units
        tip_handle = self.handles[2 * k + 1]
        self._edited.setdefault(k, set()).add(kind)
        one_d = self.scene_data.one_d
        if kind == "mean":
            if one_d:  # the mean moves along the axis; its handle stays on the curve's peak
                p[1] = w[k] / np.sqrt(2 * np.pi * c[k, 0, 0])
            offset = self._tip(k) - m[k]
            m[k] = p
            tip_handle.blockSignals(True)
            tip_handle.setPos(*self.display.to_display(p + offset))
            tip_handle.blockSignals(False)
        elif one_d:  # (a floor of 1e-12 display units: the data's own scale, whatever it is)
            c[k, 0, 0] = max(abs(p[0] - m[k, 0]) / 2.0, 1e-12 * self.display.unit[0]) ** 2
        else:
            c[k] = covariance_from_axis(m[k], c[k], p)
        if one_d:
            x = np.linspace(*self.scene_data.bounds[:2], 400)
            sd = np.sqrt(c[k, 0, 0])
            y = w[k] * np.exp(-0.5 * ((x - m[k, 0]) / sd) ** 2) / (np.sqrt(2 * np.pi) * sd)
            self.ellipses[k].setData(*self._mapped(x, y))
            return
        rings = ellipse_rings(m[k], c[k])
        self.ellipses[k].setData(*self._mapped(rings[:, 0], rings[:, 1]))

    def _emit_start(self) -> None:
        """The start as edited, in D dimensions: each moved component's mean and covariance change in the view's
        plane only (engine.model.projection), the others are the frame's own."""
        from engine import moved_mean, reshaped_covariance

        snap = self.frame.snapshot
        w, vm, vc = self._edit
        means, cov = snap.means.copy(), snap.covariances.copy()
        view = self.scene_data.view
        for k, kinds in sorted(self._edited.items()):
            if "mean" in kinds:
                means[k] = vm[k, :1] if view is None else moved_mean(view, snap.means[k], vm[k])
            if "axis" in kinds:
                cov[k] = vc[k] if view is None else reshaped_covariance(view, snap.covariances[k], vc[k])
        self.start_edited.emit(w.copy(), means, cov)

    def _show_trajectories(self, trajectory: np.ndarray | None, k: int) -> None:
        """Each mean's path (T, K, 2) from its initial position (a hollow circle) to where it is now."""
        while len(self.trajectories) < k:
            item = pg.PlotCurveItem()
            item.setZValue(12)
            self.addItem(item)
            self.trajectories.append(item)
        show = self.show_trajectories and trajectory is not None and len(trajectory) > 0
        for j, item in enumerate(self.trajectories):
            if show and j < k:
                item.setPen(pg.mkPen(component_color(j).darker(140), width=1.5))
                item.setData(*self._mapped(trajectory[:, j, 0], trajectory[:, j, 1]))
            else:
                item.setData([], [])
        if show:
            self.starts.setData(
                pos=self.display.to_display(trajectory[0]),
                pen=[pg.mkPen(component_color(j).darker(140), width=2) for j in range(k)],
            )
        else:
            self.starts.setData([], [])

    def svg_text(self) -> str:
        """The plot as it is now (view range, points, fit) as standalone SVG (see svg_export)."""
        from ..scene.svg_export import plot_svg

        scene = self.scene_data
        if scene is None:
            raise ValueError("there is no data on the plot")
        (x0, x1), (y0, y1) = (self.display.range_to_data(i, *r) for i, r in enumerate(self.view_box.viewRange()))
        frame = self.frame
        k = len(frame.snapshot.weights) if frame is not None else 0
        image = (
            _png_base64(_density_lut()[(scene.image.T[::-1] * 255).astype(np.uint8)]) if scene.image is not None else ""
        )
        axis = list(self.axis_names)  # the SVG's ticks are in data units: the names without the display offset
        return plot_svg(
            (x0, x1, y0, y1),
            max(self.width(), 400),
            max(self.height(), 300),
            scene.shown_points,
            frame.labels if frame is not None else None,
            [component_color(j).name() for j in range(k)],
            frame,
            tuple(axis),
            image,
            scene.bounds,
            POINT_PX,
        )

    def set_draw_mode(self, on: bool) -> None:
        self.view_box.draw_mode = on
        self.setCursor(Qt.CursorShape.CrossCursor if on else Qt.CursorShape.ArrowCursor)

    # ------------------------------------------------------------------ hover
    def _mouse_moved(self, scene_pos: QPointF) -> None:
        if self.scene_data is None or not self.plotItem.sceneBoundingRect().contains(scene_pos):
            self._hide_hover()
            return
        p = self.view_box.mapSceneToView(scene_pos)  # display units
        index = self.nearest_point(p.x(), p.y())
        if index is None:
            self._hide_hover()
        else:
            self._describe(index)

    def nearest_point(self, x: float, y: float) -> int | None:
        """Index (into the scene's points) of the shown point within HOVER_PX pixels of (x, y) (display units, as
        the view box maps the cursor), or None."""
        shown = self._shown_display
        if not len(shown):
            return None
        sx, sy = self.view_box.viewPixelSize()
        d2 = ((shown[:, 0] - x) / sx) ** 2 + ((shown[:, 1] - y) / sy) ** 2
        j = int(np.argmin(d2))
        return int(self.scene_data.shown[j]) if d2[j] <= HOVER_PX**2 else None

    def describe_point(self, index: int) -> str:
        """HTML: the point's coordinates and, once fitted, each component's responsibility."""
        point = self.scene_data.points[index]
        names = self.column_names if len(self.column_names) == len(point) else tuple(f"x{j}" for j in range(len(point)))
        coords = [f"{name} = {v:.6g}" for name, v in zip(names, point, strict=True)]
        # every coordinate, three to a line: a 64-D point's box stays inside the plot
        rows = [", ".join(coords[i : i + 3]) for i in range(0, len(coords), 3)]
        lines = [f"<b>point {index}</b>: {rows[0]}", *rows[1:]]
        if self.frame is not None:
            import engine

            snap = self.frame.snapshot
            resp = engine.responsibilities(point[None, :], snap.weights, snap.means, snap.covariances)[0]
            for j, r in enumerate(resp):
                lines.append(f"<span style='color:{component_color(j).name()}'>&#9632;</span> component {j}: {r:.4f}")
        return "<br>".join(lines)

    def _describe(self, index: int) -> None:
        self.hovered_index = index
        x, y = self.display.to_display(np.array(self._view_xy(index)))
        self.hover_marker.setData([x], [y])
        self.hover_text.setHtml(self.describe_point(index))
        # open the box towards the middle of the view, so that it is never cut at the plot's edge
        (x0, x1), (y0, y1) = self.view_box.viewRange()
        self.hover_text.setAnchor((1.0 if x > (x0 + x1) / 2 else 0.0, 0.0 if y > (y0 + y1) / 2 else 1.0))
        self.hover_text.setPos(x, y)
        self.hover_text.show()
        self.hovered.emit(index)

    def _view_xy(self, index: int) -> tuple[float, float]:
        """Where point `index` (into the scene's points) is drawn."""
        scene = self.scene_data
        at = np.searchsorted(scene.shown, index)
        if at < len(scene.shown) and scene.shown[at] == index:
            return tuple(scene.shown_points[at])
        if scene.view is None:
            return float(scene.points[index, 0]), 0.0
        return tuple(scene.view.points(scene.points[index : index + 1])[0])

    def _hide_hover(self) -> None:
        if self.hovered_index is None:
            return
        self.hovered_index = None
        self.hover_marker.setData([], [])
        self.hover_text.hide()
        self.hovered.emit(None)


def axis_tip(mean: np.ndarray, cov: np.ndarray, sigma: float = 2.0) -> np.ndarray:
    """The end of the ellipse's major semi-axis at `sigma` standard deviations (2,)."""
    values, vectors = np.linalg.eigh(cov)
    return mean + sigma * np.sqrt(max(values[-1], 0.0)) * vectors[:, -1]


def covariance_from_axis(mean: np.ndarray, cov: np.ndarray, tip: np.ndarray, sigma: float = 2.0) -> np.ndarray:
    """The covariance whose major semi-axis at `sigma` ends at tip; the minor axis keeps its length (2, 2)."""
    values, _ = np.linalg.eigh(cov)
    u = tip - mean
    length = float(np.linalg.norm(u))
    if length == 0.0:
        return cov
    u /= length
    v = np.array([-u[1], u[0]])
    major = (length / sigma) ** 2
    # the dragged axis stays the major one; the minor one's floor is relative (data near 1e-140 has variances
    # near 1e-280: an absolute floor would make every reshaped ellipse a circle)
    minor = min(max(values[0], 1e-12 * major), major)
    return major * np.outer(u, u) + minor * np.outer(v, v)


_CONTOUR_PEN = pg.mkPen("#303030", width=1, alpha=0.6)
_MIXTURE_PEN = pg.mkPen("#202020", width=2.5)


def _ellipse_pen(k: int, state: str):
    """Solid for a healthy component; dashed when it is collapsing or has few points; dotted when re-seeded."""
    if state in ("collapsing", "few points", "empty"):
        return pg.mkPen(component_color(k), width=3, style=Qt.PenStyle.DashLine)
    if state == "re-seeded":
        return pg.mkPen(component_color(k), width=2.5, style=Qt.PenStyle.DotLine)
    return pg.mkPen(component_color(k), width=2)


def no_si_prefix(axis: pg.AxisItem) -> None:
    """Never an SI prefix ("(x0.001)") on the axis. enableAutoSIPrefix(False) alone is not enough in pyqtgraph
    0.14: it computes the prefix once more as it is called (for a visible label, from the range and scale of
    that moment) and then keeps it; with no range enabled for prefixes that computation gives none."""
    axis.setSIPrefixEnableRanges(((0.0, -1.0),))  # an empty range: no value ever gets a prefix
    axis.enableAutoSIPrefix(False)


def add_light_grid(plot: pg.PlotWidget) -> None:
    """A light one-level grid as its own item: the axes' own grid (showGrid) and a three-level GridItem
    cost far more a repaint, and a live fit repaints often."""
    grid = pg.GridItem(pen=pg.mkPen(225, 228, 235), textPen=None)
    grid.setTickSpacing(x=[None], y=[None])
    grid.setZValue(-30)
    plot.addItem(grid)


def _png_base64(rgba: np.ndarray) -> str:
    """PNG bytes (base64) of an RGBA uint8 image (H, W, 4)."""
    import base64

    from PySide6.QtCore import QBuffer, QByteArray, QIODevice
    from PySide6.QtGui import QImage

    rgba = np.ascontiguousarray(rgba)
    image = QImage(rgba.data, rgba.shape[1], rgba.shape[0], rgba.shape[1] * 4, QImage.Format.Format_RGBA8888)
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    buffer.close()
    return base64.b64encode(bytes(data)).decode("ascii")


def _density_lut() -> np.ndarray:
    """White to blue-grey: the density image stays behind the coloured sample."""
    t = np.linspace(0.0, 1.0, 256)[:, None]
    white, deep = np.array([255, 255, 255]), np.array([70, 90, 130])
    rgb = (white * (1 - t) + deep * t).astype(np.uint8)
    return np.hstack([rgb, np.full((256, 1), 255, dtype=np.uint8)])
