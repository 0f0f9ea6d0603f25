"""The plot's hover: the point nearest the cursor marked and described (its coordinates and, once fitted, each
component's responsibility) in a box that opens towards the middle of the view."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF

from .missing_ticks import tick_feet
from .palette import component_color

HOVER_PX = 8  # how near (pixels) the cursor must be to a point to describe it


class PointHover:
    """PlotView's hover (mixed into it): uses scene_data, frame, display, view_box, hover_marker, hover_text,
    column_names, hovered_index, _shown_display and the hovered signal."""

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
        shown, rows = self._shown_display, self.scene_data.shown
        if self.scene_data.ticks is not None:  # and the ticks' feet on the margins (gui.scene.missing)
            feet, tick_rows = tick_feet(self.scene_data.ticks, self.scene_data.bounds)
            shown, rows = np.concatenate([shown, self.display.to_display(feet)]), np.concatenate([rows, tick_rows])
        if not len(shown):
            return None
        sx, sy = self.view_box.viewPixelSize()
        d2 = ((shown[:, 0] - x) / sx) ** 2 + ((shown[:, 1] - y) / sy) ** 2
        j = int(np.argmin(d2))
        return int(rows[j]) if d2[j] <= HOVER_PX**2 else None

    def describe_point(self, index: int) -> str:
        """HTML: the point's coordinates and, once fitted, each component's responsibility."""
        point = self.scene_data.points[index]
        names = self.column_names if len(self.column_names) == len(point) else tuple(f"x{j}" for j in range(len(point)))
        if np.isnan(point).any():  # missing values: said so, with their imputed values under the fit on screen
            return self._describe_incomplete(index, point, names)
        coords = [f"{name} = {v:.6g}" for name, v in zip(names, point, strict=True)]
        # every coordinate, three to a line: a 64-D point's box stays inside the plot
        rows = [", ".join(coords[i : i + 3]) for i in range(0, len(coords), 3)]
        lines = [f"<b>point {index}</b>: {rows[0]}", *rows[1:]]
        if self.scene_data.weights is not None:  # how many times the fit counts it (0: not at all)
            lines.append(f"weight {self.scene_data.weights[index]:.6g}")
        if self.frame is not None:
            import engine

            snap = self.frame.snapshot
            resp = engine.responsibilities(point[None, :], snap.weights, snap.means, snap.covariances)[0]
            for j, r in enumerate(resp):
                lines.append(f"<span style='color:{component_color(j).name()}'>&#9632;</span> component {j}: {r:.4f}")
        return "<br>".join(lines)

    def _describe_incomplete(self, index: int, point: np.ndarray, names: tuple[str, ...]) -> str:
        """HTML for a point (D,) with missing coordinates: each missing one named (and, once fitted, its imputed
        value E[x_m | x_o] under the fit on screen); the responsibilities given its observed coordinates."""
        filled, resp = point, None
        if self.frame is not None:
            import engine

            snap = self.frame.snapshot
            resp, filled, _ = engine.impute(point[None, :], snap.weights, snap.means, snap.covariances)
            resp, filled = resp[0], filled[0]
        coords = [
            f"{name} = {v:.6g}" if not np.isnan(p) else f"{name} <b>missing</b>" + imputed(v)
            for name, p, v in zip(names, point, filled, strict=True)
        ]
        rows = [", ".join(coords[i : i + 2]) for i in range(0, len(coords), 2)]
        lines = [f"<b>point {index}</b>: {rows[0]}", *rows[1:]]
        for j, r in enumerate(() if resp is None else resp):
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
        if scene.ticks is not None:  # a tick: its foot on the margin
            feet, rows = tick_feet(scene.ticks, scene.bounds)
            if index in rows:
                return tuple(feet[int(np.flatnonzero(rows == index)[0])])
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


def imputed(value: float) -> str:
    """A missing coordinate's imputed value in the hover (none before a fit: NaN)."""
    return "" if np.isnan(value) else f" (imputed {value:.6g} under this fit)"
