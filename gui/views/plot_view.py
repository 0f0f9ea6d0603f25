"""The central plot: points coloured by component, means, 1/2/3-sigma ellipses, density contours.

Every item is created once and then only updated with setData (the ellipse items grow as a pool when K
grows). Points are drawn by `PointCloudItem` (point_cloud); the handles that set the start by hand are in
plot_handles, the hover in plot_hover, the pens and colours in plot_style.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal

from ..scene.display_map import IDENTITY, DisplayMap
from ..scene.frames import SIGMAS, DataScene, Frame, ellipse_rings
from ..scene.weights import point_sides
from .elided_axis import ElidedAxis
from .missing_ticks import tick_item, tick_lines
from .palette import component_color
from .plot_handles import StartHandles
from .plot_hover import PointHover
from .plot_style import (
    CONTOUR_PEN,
    MIXTURE_PEN,
    add_light_grid,
    density_lut,
    ellipse_pen,
    no_si_prefix,
    png_base64,
    room_for_edge_ticks,
)
from .point_cloud import POINT_PX, PointCloudItem

SPRAY_PX = 12  # radius of the spray when dragging in draw mode


class DrawingViewBox(pg.ViewBox):
    """A ViewBox that, in draw mode, adds a point per click and sprays points while dragging. Its coordinates
    are display units (gui.scene.display_map); `display` maps them to the data units the points are emitted in."""

    points_drawn = Signal(object)  # (M, 2) new points in data units

    def __init__(self) -> None:
        super().__init__()
        self.draw_mode = False
        self.display: DisplayMap = IDENTITY
        self._rng = np.random.default_rng()
        # a right-click's taker before the view's own menu (gui.controllers.pin_control: a component's pins):
        # called with the click's position in display units and on the screen; True when it took the click
        self.context_hook = None

    def mouseClickEvent(self, ev) -> None:
        if ev.button() == Qt.MouseButton.RightButton and self.context_hook is not None:
            p = self.mapSceneToView(ev.scenePos())
            if self.context_hook(np.array([p.x(), p.y()]), ev.screenPos().toPoint()):
                ev.accept()
                return
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


def histogram_item() -> pg.PlotCurveItem:
    """1-D data's density histogram (empty), filled, under everything else."""
    item = pg.PlotCurveItem(
        x=np.zeros(1),
        y=np.zeros(0),
        stepMode="center",
        fillLevel=0,
        brush=pg.mkBrush(200, 208, 222),
        pen=pg.mkPen(150, 160, 180),
    )
    item.setZValue(-10)
    return item


class PlotView(StartHandles, PointHover, pg.PlotWidget):
    """The main plot. `show_scene` when the data changes, `show_frame` for every snapshot frame."""

    hovered = Signal(object)  # index into the scene's points, or None
    start_edited = Signal(object, object, object)  # weights (K,), means (K, 2), covariances (K, 2, 2)

    def __init__(self, parent=None) -> None:
        self.view_box = DrawingViewBox()
        # long column names as titles: cut at the end with '…', not at both edges (elided_axis.py)
        axes = {s: ElidedAxis(s) for s in ("bottom", "left")}
        super().__init__(parent, background="w", viewBox=self.view_box, axisItems=axes)
        add_light_grid(self)
        room_for_edge_ticks(self)
        for axis in ("left", "bottom"):  # a view's axes are in data units: no "(x0.001)" rescaling
            no_si_prefix(self.plotItem.getAxis(axis))
        self.scene_data: DataScene | None = None
        self.frame: Frame | None = None
        # data units -> the units every item is drawn in (gui.scene.display_map); the scene's, set by show_scene
        self.display: DisplayMap = IDENTITY
        self._shown_display = np.empty((0, 2))  # the scene's shown points in display units (S, 2)
        self._sides: np.ndarray | None = None  # their dots' sides in pixels (weighted data), or None
        self.axis_names: tuple[str, str] = ("x", "y")  # the axes' names, without the display offset
        self.image = pg.ImageItem()
        self.image.setLookupTable(density_lut())
        # 1-D data: its density histogram (the points are a rug below it)
        self.histogram = histogram_item()
        self.addItem(self.histogram)
        self.points = PointCloudItem()
        self.missing_ticks: pg.PlotCurveItem | None = None  # made for the first data with missing values
        self.contours = pg.PlotCurveItem(connect="finite", pen=CONTOUR_PEN)
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
        self._sides = None if scene.weights is None else point_sides(scene.weights[scene.shown])
        self.points.set_points(self._shown_display, None, self._sides)
        self._show_ticks(scene)
        self.contours.setData([], [])
        for item in self.ellipses:
            item.setData([], [])
        self.means.setData([], [])
        self.starts.setData([], [])
        for item in self.trajectories:
            item.setData([], [])
        self._hide_hover()
        self._frame_scene(scene, keep_range, old_display)

    def _show_ticks(self, scene: DataScene) -> None:
        """Data with missing values: ticks on the margins for points missing one shown coordinate (gui.views.
        missing_ticks), the title counting those missing both. Complete data draws nothing more than ever."""
        if scene.ticks is None and self.missing_ticks is None:
            return
        if self.missing_ticks is None:
            self.missing_ticks = tick_item()
            self.addItem(self.missing_ticks)
        if scene.ticks is None:  # complete data after data with missing values
            self.missing_ticks.setData([], [])
            self.setTitle(None)
            return
        self.missing_ticks.setData(*self._mapped(*tick_lines(scene.ticks, scene.bounds)))
        self.setTitle(scene.ticks.note(self.axis_names) or None, size="9pt")

    def _set_axes(self, names: tuple[str, str]) -> None:
        """Label the axes with their names (and the display offset) and tick them in data units."""
        self.axis_names = names
        for i, side in enumerate(("bottom", "left")):
            self.plotItem.getAxis(side).setScale(self.display.unit[i])
            # a long name ends in '…' before the offset, which stays: the ticks read wrong without it
            self.plotItem.getAxis(side).set_title(names[i], self.display.offset_note(i))

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
            self.points.set_points(self._shown_display, frame.labels, self._sides)
        while len(self.ellipses) < k:  # grow the pool once per new largest K
            item = pg.PlotCurveItem(connect="finite")
            item.setZValue(10)
            self.addItem(item)
            self.ellipses.append(item)
        states = frame.states or ()
        for j, item in enumerate(self.ellipses):
            if j < k:
                rings = self.visible_rings(self._display_rings(frame, j))
                item.setPen(ellipse_pen(j, states[j].state if j < len(states) else "ok"))
                item.setData(rings[:, 0], rings[:, 1])
            else:
                item.setData([], [])
        self._show_trajectories(frame.trajectory, k)
        one_d = self.scene_data is not None and self.scene_data.one_d
        self.contours.setPen(MIXTURE_PEN if one_d else CONTOUR_PEN)
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
            png_base64(density_lut()[(scene.image.T[::-1] * 255).astype(np.uint8)]) if scene.image is not None else ""
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
            self._sides,
            None if scene.ticks is None else np.column_stack(tick_lines(scene.ticks, scene.bounds)),
        )

    def set_draw_mode(self, on: bool) -> None:
        self.view_box.draw_mode = on
        self.setCursor(Qt.CursorShape.CrossCursor if on else Qt.CursorShape.ArrowCursor)
