"""Setting the start by hand on the plot: a handle on each mean and on each 2-sigma ellipse's major axis tip
(StartHandles, mixed into PlotView), and the geometry that turns a dragged tip into a covariance."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from ..scene.frames import ellipse_rings
from .palette import component_color


class StartHandles:
    """PlotView's handles: set_edit_mode shows them; releasing one emits start_edited with the edited start.
    Uses the plot's frame, scene_data, display, ellipses, _mapped and start_edited."""

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
