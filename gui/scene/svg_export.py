"""The plot as a standalone vector SVG, written from the frame's own data (no Qt here).

pyqtgraph 0.14's SVGExporter fails on Qt 6.11 (it parses Qt's path syntax), and Qt's SVG painter turns
the axes and markers into transformed pictures that other viewers misplace. Writing the SVG from the data
gives a clean file: one path per component's points (square dots), ellipses, contours, means, axes.
"""

from __future__ import annotations

import math
from xml.sax.saxutils import escape

import numpy as np

from .weights import HOLLOW_PX

MARGIN = (70, 20, 20, 55)  # left, right, top, bottom (pixels)


def nice_ticks(lo: float, hi: float, target: int = 7) -> np.ndarray:
    """Round tick values (1, 2 or 5 times a power of ten) covering [lo, hi]."""
    span = hi - lo
    if not math.isfinite(span) or span <= 0:
        return np.array([lo])
    raw = span / target
    power = 10.0 ** math.floor(math.log10(raw))
    step = min((m * power for m in (1, 2, 5, 10) if m * power >= raw), default=10 * power)
    first = math.ceil(lo / step) * step
    return np.arange(first, hi + step * 1e-9, step)


class _Mapper:
    """Data (x, y) -> SVG pixels inside the plot area (y grows downwards in SVG)."""

    def __init__(self, view: tuple[float, float, float, float], width: int, height: int) -> None:
        self.x0, self.x1, self.y0, self.y1 = view
        left, right, top, bottom = MARGIN
        self.left, self.top = left, top
        self.w, self.h = width - left - right, height - top - bottom

    def px(self, xy: np.ndarray) -> np.ndarray:
        x = self.left + (xy[..., 0] - self.x0) / (self.x1 - self.x0) * self.w
        y = self.top + (self.y1 - xy[..., 1]) / (self.y1 - self.y0) * self.h
        return np.stack([x, y], axis=-1)


def _polyline_path(xy: np.ndarray, m: _Mapper) -> str:
    """NaN-separated polylines (M, 2) as one path's d attribute."""
    parts, pen_down = [], False
    for x, y in m.px(xy):
        if not (math.isfinite(x) and math.isfinite(y)):
            pen_down = False
            continue
        parts.append(f"{'L' if pen_down else 'M'}{x:.2f} {y:.2f}")
        pen_down = True
    return "".join(parts)


def _dots_path(xy: np.ndarray, m: _Mapper) -> str:
    # a tiny segment, not h0: some renderers (Qt's) drop the caps of zero-length subpaths
    return "".join(f"M{x:.2f} {y:.2f}h0.01" for x, y in m.px(xy))


def _dots(points: np.ndarray, labels, colors: list[str], m: _Mapper, point_px: float) -> list[str]:
    """The points (S, 2) as one path of point_px squares per colour (grey when labels is None)."""
    groups = [(points, "#6b7a8f")] if labels is None else [(points[labels == k], c) for k, c in enumerate(colors)]
    return [
        f'<path class="points" d="{_dots_path(xy, m)}" stroke="{color}" '
        f'stroke-width="{point_px}" stroke-linecap="square" fill="none"/>'
        for xy, color in groups
        if len(xy)
    ]


def _sized_dots(points: np.ndarray, labels, colors: list[str], sides: np.ndarray, m: _Mapper) -> list[str]:
    """A square per weighted point (S,): its side in pixels, filled; a side of 0 a hollow HOLLOW_PX square. The
    largest first, as the plot paints them."""
    out, px = [], m.px(points)
    for i in np.argsort(-sides, kind="stable"):
        (x, y), side = px[i], float(sides[i])
        color = "#6b7a8f" if labels is None or len(labels) != len(points) else colors[int(labels[i])]
        paint = f'fill="{color}"' if side > 0 else f'fill="none" stroke="{color}" stroke-width="1"'
        side = side if side > 0 else HOLLOW_PX
        corner = f'x="{x - side / 2:.2f}" y="{y - side / 2:.2f}"'
        out.append(f'<rect class="point" {corner} width="{side:g}" height="{side:g}" {paint}/>')
    return out


def plot_svg(
    view: tuple[float, float, float, float],
    width: int,
    height: int,
    points: np.ndarray,
    labels: np.ndarray | None,
    colors: list[str],
    frame=None,
    axis_names: tuple[str, str] = ("x", "y"),
    image_png_base64: str = "",
    image_bounds: tuple[float, float, float, float] | None = None,
    point_px: float = 3.0,
    sides: np.ndarray | None = None,
    ticks: np.ndarray | None = None,
) -> str:
    """SVG text of the plot over view (x0, x1, y0, y1): points (S, 2) coloured by labels (S,) with
    colors[k] (or grey when labels is None), and the frame's contours, ellipses and means when given. sides (S,):
    weighted points' squares' sides in pixels (0: a hollow HOLLOW_PX square), as the plot draws them. ticks
    (2T, 2): the margins' ticks of points with a missing coordinate, pairs of line ends (gui.views.missing_ticks)."""
    m = _Mapper(view, width, height)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        "<title>GMM Studio plot</title>",
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<defs><clipPath id="area"><rect x="{m.left}" y="{m.top}" width="{m.w}" height="{m.h}"/></clipPath></defs>',
    ]
    out += _axes(m, view, axis_names)
    out.append('<g clip-path="url(#area)">')
    if image_png_base64 and image_bounds is not None:
        (ax, ay), (bx, by) = m.px(np.array([[image_bounds[0], image_bounds[3]], [image_bounds[1], image_bounds[2]]]))
        out.append(
            f'<image x="{ax:.2f}" y="{ay:.2f}" width="{bx - ax:.2f}" height="{by - ay:.2f}" '
            f'preserveAspectRatio="none" href="data:image/png;base64,{image_png_base64}"/>'
        )
    out += (
        _dots(points, labels, colors, m, point_px) if sides is None else _sized_dots(points, labels, colors, sides, m)
    )
    if ticks is not None and len(ticks):  # (NaN rows between the pairs: one subpath per tick)
        split = np.insert(ticks, range(2, len(ticks), 2), np.nan, axis=0)
        out.append(f'<path class="missing-ticks" d="{_polyline_path(split, m)}" stroke="#222222" stroke-width="1.5"/>')
    if frame is not None:
        if len(frame.contours):
            out.append(
                f'<path class="contours" d="{_polyline_path(frame.contours, m)}" fill="none" '
                'stroke="#303030" stroke-opacity="0.6" stroke-width="1"/>'
            )
        for k, rings in enumerate(frame.ellipses):
            out.append(
                f'<path class="ellipse" d="{_polyline_path(rings, m)}" fill="none" stroke="{colors[k]}" '
                'stroke-width="2"/>'
            )
        means = frame.view_means if frame.view_means is not None else frame.snapshot.means  # in the view
        for k, (x, y) in enumerate(m.px(means)):
            out.append(
                f'<path class="mean" d="M{x - 9:.2f} {y:.2f}h18M{x:.2f} {y - 9:.2f}v18" '
                f'stroke="{colors[k]}" stroke-width="4" fill="none"/>'
            )
    out.append("</g></svg>")
    return "\n".join(out) + "\n"


def _axes(m: _Mapper, view: tuple[float, float, float, float], names: tuple[str, str]) -> list[str]:
    out = [f'<rect x="{m.left}" y="{m.top}" width="{m.w}" height="{m.h}" fill="none" stroke="#444"/>']
    for tx in nice_ticks(view[0], view[1]):
        x = m.px(np.array([tx, view[2]]))[0]
        out.append(f'<path d="M{x:.2f} {m.top}v{m.h}" stroke="#e1e4eb" fill="none"/>')
        out.append(f'<text x="{x:.2f}" y="{m.top + m.h + 16}" text-anchor="middle">{tx:g}</text>')
    for ty in nice_ticks(view[2], view[3]):
        y = m.px(np.array([view[0], ty]))[1]
        out.append(f'<path d="M{m.left} {y:.2f}h{m.w}" stroke="#e1e4eb" fill="none"/>')
        out.append(f'<text x="{m.left - 6}" y="{y + 4:.2f}" text-anchor="end">{ty:g}</text>')
    out.append(
        f'<text x="{m.left + m.w / 2:.1f}" y="{m.top + m.h + 40}" text-anchor="middle">{escape(names[0])}</text>'
    )
    out.append(
        f'<text transform="translate(18 {m.top + m.h / 2:.1f}) rotate(-90)" text-anchor="middle">'
        f"{escape(names[1])}</text>"
    )
    return out
