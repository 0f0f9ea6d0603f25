"""The Model selection tab with mclust's fourteen models (issue 24): one line per model fitted, names the registry
does not hold drawn too, the best three by the chosen criterion (BIC or ICL) thick and labelled, spurious fits never
among them; each model's glyph draws its volume, shape and orientation; the legend lists every registered model
with its meaning; the table has an ICL column. Entries are made here (no fit), so the expected ranks are known."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
from PySide6.QtCore import QLocale, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication

import engine
from gui.views.model_style import glyph_ellipses, glyph_pixmap, line_style, meaning
from gui.views.selection_chart import THICK, THIN
from gui.views.selection_table import COLUMNS
from gui.views.selection_view import SelectionView

KS = range(1, 7)


@dataclass
class Entry:
    """What the view reads of an engine SelectionEntry (icl: issue 24's new field)."""

    k: int
    covariance_type: str
    bic: float | None
    aic: float | None
    icl: float | None = None
    spurious: bool = False
    reason: str = ""
    log_likelihood: float | None = -1.0
    converged: bool = True
    snapshot: object = None


def _entries(bic_order: list[str], icl_order: list[str], spurious: str | None = None) -> list[Entry]:
    """Every model of MCLUST_MODELS at K = 1..6: a model's best is at K = 3, and the models' bests rank as the
    orders say (BIC and ICL apart); `spurious`: that model's K = 3 fit is spurious, with the lowest values of all."""
    out = []
    for model in engine.MCLUST_MODELS:
        for k in KS:
            bic = 1000.0 + 10.0 * bic_order.index(model) + 4.0 * (k - 3) ** 2
            icl = 1050.0 + 10.0 * icl_order.index(model) + 4.0 * (k - 3) ** 2
            bad = model == spurious and k == 3
            out.append(
                Entry(k, model, bic - 500 * bad, bic - 30, icl - 500 * bad, spurious=bad, reason="collapsed" * bad)
            )
    return out


def _drawn(view: SelectionView) -> dict[str, list]:
    return {
        name: list(curve.getData()[0])
        for name, curve in view.curves.items()
        if curve.getData()[0] is not None and len(curve.getData()[0])
    }


def test_the_chart_draws_one_line_per_model_fitted(view) -> None:
    models = list(engine.MCLUST_MODELS)
    view.show_entries(_entries(models, models[::-1]))
    drawn = _drawn(view)
    assert sorted(drawn) == sorted(models)  # fourteen lines, the ten the registry may lack among them
    assert all(x == list(KS) for x in drawn.values())
    # every model fitted has a legend row, a registered one's box enabled (it can be fitted here)
    for model in models:
        assert model in view.legend.boxes
        assert view.legend.boxes[model].isEnabled() == (model in engine.COVARIANCE_TYPES)


def test_the_best_three_by_the_chosen_criterion_are_thick_and_labelled(view) -> None:
    bic_order = ["EVE", "VVV", "EEE", *[m for m in engine.MCLUST_MODELS if m not in ("EVE", "VVV", "EEE")]]
    icl_order = ["VVE", "EII", "VEV", *[m for m in engine.MCLUST_MODELS if m not in ("VVE", "EII", "VEV")]]
    view.show_entries(_entries(bic_order, icl_order, spurious="VII"))  # VII,3 is lowest but spurious
    for criterion, order in (("BIC", bic_order), ("ICL", icl_order)):
        view.criterion.setCurrentText(criterion)
        view.flush()  # a redraw is drawn in pieces, a turn of the event loop each
        assert view.chart.highlighted == order[:3]
        widths = {name: curve.opts["pen"].widthF() for name, curve in view.curves.items()}
        assert {n for n, w in widths.items() if w == THICK} == set(order[:3])
        assert {n for n, w in widths.items() if w == THIN} == set(engine.MCLUST_MODELS) - set(order[:3])
        assert [label.toPlainText() for label in view.chart.labels] == [f"{m},3" for m in order[:3]]
        assert view.chart.getAxis("left").labelText == criterion
        assert view.best.text().startswith(f"Best by {criterion}: {order[0]},3")
        star = view.chart.best_marker.getData()
        assert (star[0][0], star[1][0]) == (3, 1000.0 + (50.0 if criterion == "ICL" else 0.0))
        bold = {name for name, box in view.legend.boxes.items() if box.font().bold()}
        assert bold == set(order[:3])


def test_icl_absent_from_the_entries_draws_nothing_and_says_so(view) -> None:
    """Fits without an ICL (failed ones have none): no line, and the text says so."""
    entries = _entries(list(engine.MCLUST_MODELS), list(engine.MCLUST_MODELS))
    for e in entries:
        e.icl = None
    view.show_entries(entries)
    view.criterion.setCurrentText("ICL")
    view.flush()
    assert _drawn(view) == {} and view.chart.highlighted == []
    assert view.best.text().startswith("No usable fit has a value of ICL.")
    view.criterion.setCurrentText("BIC")
    view.flush()
    assert len(_drawn(view)) == len(engine.MCLUST_MODELS)


def test_the_table_lists_every_fit_with_its_icl(view) -> None:
    entries = _entries(list(engine.MCLUST_MODELS), list(engine.MCLUST_MODELS))
    entries[0].icl = None
    view.show_entries(entries)
    table = view.table
    icl = COLUMNS.index("ICL")
    assert table.rowCount() == len(entries) and table.horizontalHeaderItem(icl).text() == "ICL"
    delegate = table.itemDelegate()
    for r in range(table.rowCount()):
        e, cell = table.entry_at(r), table.item(r, icl)
        text = delegate.displayText(cell.data(Qt.ItemDataRole.DisplayRole), QLocale())
        assert text == ("n/a" if e.icl is None else f"{e.icl:.2f}")
    table.sortItems(icl)  # by the number, the missing one last
    values = [table.entry_at(r).icl for r in range(table.rowCount())]
    assert values[-1] is None and values[:-1] == sorted(v for v in values if v is not None)


def test_lines_are_grouped_by_family_and_told_apart_within_it() -> None:
    styles = {m: line_style(m) for m in engine.MCLUST_MODELS}
    families = {"spherical": ("EII", "VII"), "diagonal": ("EEI", "VEI", "EVI", "VVI")}
    families["ellipsoidal"] = tuple(m for m in engine.MCLUST_MODELS if m[2] != "I")
    hues = {f: {styles[m][0].hue() for m in ms} for f, ms in families.items()}
    assert all(len(h) == 1 for h in hues.values()) and len(set.union(*hues.values())) == 3  # one hue a family
    assert len({(dash, marker) for _c, dash, marker in styles.values()}) == 14  # every model its own line


def _ratios(model: str) -> list[float]:
    return [e.a / e.b for e in glyph_ellipses(model)]


def test_the_glyph_shows_volume_shape_and_orientation() -> None:
    eii, vvv = glyph_ellipses("EII"), glyph_ellipses("VVV")
    # EII: three equal circles
    assert len(eii) == 3 and all(e.a == pytest.approx(e.b) for e in eii)
    assert max(e.area for e in eii) == pytest.approx(min(e.area for e in eii))
    # VVV: areas, axis ratios and angles all differ
    assert len({round(e.area, 6) for e in vvv}) == 3
    assert len({round(r, 6) for r in _ratios("VVV")}) == 3
    assert len({e.angle % 180 for e in vvv}) == 3
    # each letter alone: EEE equal everything (not circles, tilted), VEI areas only, EVI shapes only, EEV angles only
    eee = glyph_ellipses("EEE")
    assert len({round(e.area, 6) for e in eee}) == 1 and min(_ratios("EEE")) > 1.5 and eee[0].angle % 90 != 0
    assert len({round(e.area, 6) for e in glyph_ellipses("VEI")}) == 3 and len(set(_ratios("VEI"))) == 1
    assert all(e.angle == 0 for m in ("VEI", "EVI", "EEI", "VVI") for e in glyph_ellipses(m))
    assert len({round(e.area, 6) for e in glyph_ellipses("EVI")}) == 1 and len(set(_ratios("EVI"))) == 3
    assert len({e.angle for e in glyph_ellipses("EEV")}) == 3 and len(set(_ratios("EEV"))) == 1
    assert glyph_ellipses("XYZ") == [] and glyph_ellipses("EIV") == []


def _inked(model: str, height: int = 60) -> list[int]:
    """Pixels drawn in each third of the model's glyph."""
    image = glyph_pixmap(model, height, QColor("black")).toImage()
    counts = [0, 0, 0]
    for x in range(image.width()):
        for y in range(image.height()):
            if image.pixelColor(x, y).alpha() > 0:
                counts[min(x // height, 2)] += 1
    return counts


def test_the_glyph_pixels_follow_the_ellipses(qtbot) -> None:
    """Drawn, not only computed: EII's three circles cover as much as each other, VII's shrink (as pi a b)."""
    from gui.app import make_app

    make_app()
    eii, vii = _inked("EII"), _inked("VII")
    assert eii[0] == eii[1] == eii[2]
    assert vii[0] > vii[1] > vii[2]
    # each circle's inked radius is its computed one plus a common fringe: half the 1.2-pixel outline and the
    # antialiased edge (measured 1.20 to 1.30 pixels at height 60)
    fringes = []
    for ink, e in zip([*eii, *vii], [*glyph_ellipses("EII"), *glyph_ellipses("VII")], strict=True):
        fringes.append(math.sqrt(ink / math.pi) - e.a * 60)
    assert all(0.6 <= f <= 1.8 for f in fringes) and max(fringes) - min(fringes) < 0.2, fringes


def test_meanings_read_the_three_letters() -> None:
    assert meaning("EVE") == "EVE: equal volume, varying shape, equal orientation"
    assert meaning("VEI") == "VEI: varying volume, equal shape, axis-aligned"
    assert meaning("EII") == "EII: spherical, equal volume"
    assert meaning("vvv") == "VVV: varying volume, varying shape, varying orientation"
    assert "not one of mclust's models" in meaning("full")


def test_the_legend_and_the_covariance_list_name_every_registered_model(view) -> None:
    from gui.views.controls import ControlPanel

    view.resize(1400, 500)
    view.splitter.setSizes([500, 900])  # the legend dragged wide enough for the meanings beside the names
    QApplication.processEvents()
    assert not view.legend.key.isVisible()
    panel = ControlPanel()
    combo = panel.covariance
    assert combo.currentText() == next(iter(engine.COVARIANCE_TYPES))  # the default stays the first registered
    for name, cov_type in engine.COVARIANCE_TYPES.items():
        model = cov_type.model or name
        assert view.legend.boxes[name].text().startswith(model)
        assert view.legend.meanings[name].text() == meaning(model).split(": ", 1)[1]
        assert view.legend.meanings[name].isVisible()
        index = combo.findText(name)
        assert index >= 0 and combo.itemData(index, Qt.ItemDataRole.ToolTipRole).startswith(meaning(model))
        assert not combo.itemIcon(index).isNull()
    view.resize(420, 500)  # narrow: the mclust names stay; the meanings, sklearn names and key go to the tooltips
    QApplication.processEvents()
    assert not any(label.isVisible() for label in view.legend.meanings.values()) and not view.legend.key.isVisible()
    assert view.legend.toolTip().startswith("volume, shape, orientation: E equal, V varying")
    assert all(box.isVisible() and box.toolTip().startswith(box.text()[:3]) for box in view.legend.boxes.values())
    assert sorted(box.text() for box in view.legend.boxes.values()) == sorted(engine.MCLUST_MODELS)


def test_k_has_whole_ticks(view) -> None:
    """K is a whole number: the chart's K axis has ticks at whole numbers only (it had 1.5, 2.5, ...)."""
    view.show_entries(_entries(list(engine.MCLUST_MODELS), list(engine.MCLUST_MODELS)))
    axis = view.chart.getAxis("bottom")
    ticks = [v for _spacing, values in axis.tickValues(1, 9, 600) for v in values]
    assert ticks and all(float(v).is_integer() for v in ticks)
