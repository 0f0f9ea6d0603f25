"""How each covariance model looks: its family, its one-line meaning, its line style on the selection chart and a
small glyph of its shape, all read from its mclust name (Celeux & Govaert's Sigma_k = lambda_k D_k A_k D_k^T:
volume lambda, shape A, orientation D; each letter E equal, V varying, I identity).

Everything here works from the name alone, so a model fitted elsewhere (a name the registry does not hold) is
drawn and explained too. A name that is not three such letters is an "other" model: grey, plain, no glyph ellipses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap

FAMILIES = ("spherical", "diagonal", "ellipsoidal")  # by orientation (and shape): mclust's three groups
OTHER = "other"
# one hue per family (colour-blind safe pairs: green, orange, blue); members get shades of it
FAMILY_COLOURS = {"spherical": "#1b7837", "diagonal": "#d95f02", "ellipsoidal": "#2166ac", OTHER: "#666666"}
# the marker says shape and orientation (one per pair mclust uses), the dash says volume (E solid, V dashed)
MARKERS = {"II": "o", "EI": "s", "VI": "d", "EE": "t", "VE": "t1", "EV": "t2", "VV": "h"}
DASHES = {"E": Qt.PenStyle.SolidLine, "V": Qt.PenStyle.DashLine}
_WORD = {"E": "equal", "V": "varying"}


@dataclass(frozen=True)
class Ellipse:
    """One ellipse of a glyph, in a unit cell: centre (cx, cy), semi-axes a >= b, angle in degrees (0: a along x)."""

    cx: float
    cy: float
    a: float
    b: float
    angle: float

    @property
    def area(self) -> float:
        return math.pi * self.a * self.b


def letters(model: str) -> str | None:
    """The model's three letters (volume, shape, orientation) upper-cased, or None when it is no mclust name."""
    name = model.upper()
    if len(name) != 3 or any(c not in "EVI" for c in name) or name[0] == "I":
        return None
    if name[1] == "I" and name[2] != "I":  # a sphere has no orientation: "EIV" is no model
        return None
    return name


def family(model: str) -> str:
    """spherical (shape I), diagonal (orientation I), ellipsoidal (the rest) or OTHER."""
    name = letters(model)
    if name is None:
        return OTHER
    if name[1] == "I":
        return "spherical"
    return "diagonal" if name[2] == "I" else "ellipsoidal"


def meaning(model: str) -> str:
    """One line: 'EVE: equal volume, varying shape, equal orientation' (I: spherical, axis-aligned)."""
    name = letters(model)
    if name is None:
        return f"{model}: not one of mclust's models"
    volume = f"{_WORD[name[0]]} volume"
    if name[1] == "I":
        return f"{name}: spherical, {volume}"
    orientation = "axis-aligned" if name[2] == "I" else f"{_WORD[name[2]]} orientation"
    return f"{name}: {volume}, {_WORD[name[1]]} shape, {orientation}"


def model_name(covariance_type: str, model: str | None = None) -> str:
    """The mclust name of a fit's covariance type: `model` when the entry carries one, else the registry's, else
    the name itself (a model fitted elsewhere)."""
    if model:
        return model
    import engine

    registered = engine.COVARIANCE_TYPES.get(covariance_type)
    return registered.model if registered is not None and registered.model else covariance_type


def line_style(model: str) -> tuple[QColor, Qt.PenStyle, str]:
    """Colour, dash and marker of a model's line: the family's hue in a shade by the model's place among the
    family's members (mclust's order), dashed for varying volume, the marker of its shape and orientation."""
    import engine

    name = letters(model)
    base = QColor(FAMILY_COLOURS[family(model)])
    if name is None:
        return base, Qt.PenStyle.SolidLine, "o"
    members = [m for m in engine.MCLUST_MODELS if family(m) == family(name)]
    rank = members.index(name) if name in members else 0
    # darker to lighter within the family, never so light that a thin line fades into the white chart
    shade = 100 + int(60 * rank / max(len(members) - 1, 1))
    return base.lighter(shade), DASHES[name[0]], MARKERS[name[1:]]


# the glyph's three ellipses: area factors for V volume, axis ratios for E/V shape, angles for E/V orientation
VARYING_AREA = (1.0, 0.5, 0.25)
EQUAL_RATIO, VARYING_RATIO = 2.2, (2.8, 1.35, 2.0)
EQUAL_ANGLE, VARYING_ANGLE = 35.0, (35.0, -40.0, 90.0)
GLYPH_CELLS = 3
GLYPH_REACH = 0.46  # the largest semi-axis, in cells: the ellipses never touch


def glyph_ellipses(model: str) -> list[Ellipse]:
    """Three ellipses side by side (cells 0..3 along x, 0..1 along y) that show the model's volume, shape and
    orientation: equal letters give equal areas, axis ratios or angles; I gives circles or axis-aligned ones.
    [] for a name that is no mclust model."""
    name = letters(model)
    if name is None:
        return []
    areas = VARYING_AREA if name[0] == "V" else (1.0,) * GLYPH_CELLS
    ratios = {"I": (1.0,) * GLYPH_CELLS, "E": (EQUAL_RATIO,) * GLYPH_CELLS, "V": VARYING_RATIO}[name[1]]
    angles = {"I": (0.0,) * GLYPH_CELLS, "E": (EQUAL_ANGLE,) * GLYPH_CELLS, "V": VARYING_ANGLE}[name[2]]
    # a b = area and a / b = ratio (the area's pi left out: it is the same for all)
    axes = [(math.sqrt(s * r), math.sqrt(s / r)) for s, r in zip(areas, ratios, strict=True)]
    scale = GLYPH_REACH / max(a for a, _ in axes)  # one scale for the three: their areas stay comparable
    cells = enumerate(zip(axes, angles, strict=True))
    return [Ellipse(i + 0.5, 0.5, a * scale, b * scale, angle) for i, ((a, b), angle) in cells]


def glyph_pixmap(model: str, height: int = 16, colour: QColor | str | None = None) -> QPixmap:
    """The model's glyph: its three ellipses drawn in a (3 height) x height pixmap, outlined in `colour` (the
    family's by default) and lightly filled."""
    pen_colour = QColor(colour or FAMILY_COLOURS[family(model)])
    pixmap = QPixmap(GLYPH_CELLS * height, height)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(pen_colour, 1.2))
    fill = QColor(pen_colour)
    fill.setAlpha(60)
    painter.setBrush(fill)
    for e in glyph_ellipses(model):
        painter.save()
        painter.translate(e.cx * height, e.cy * height)
        painter.rotate(-e.angle)  # counter-clockwise on screen, as angles go in a y-up chart
        painter.drawEllipse(QPointF(0, 0), e.a * height, e.b * height)
        painter.restore()
    painter.end()
    return pixmap
