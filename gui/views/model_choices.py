"""The model's choices shared by the Model panel and the Model selection tab: the covariance model (with its glyph)
and mclust's default conjugate prior, whose choice is kept while a setting that cannot take it holds (the combo
then shows 'none', disabled, its tooltip saying why) and comes back with one that can."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSettings, Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QComboBox, QStyle, QStyleOptionComboBox, QToolTip

COMBO_MIN_CHARACTERS = 6  # a combo box's narrowest width: its text elides there (the list shows it whole)
ICON_GAP = 4  # pixels between a combo box's icon and its text (Qt's styles)
PRIOR_ITEMS = ("none", "mclust's default")  # index 1: FitConfig.prior = "default"
PRIOR_TIP = (
    "mclust's default conjugate prior (priorControl(); Fraley & Raftery 2007), fitted by MAP EM: it keeps the "
    "covariances off the degenerate boundary. The log-likelihood and BIC shown are the plain ones at the MAP "
    "parameters, as mclust reports them. none: maximum likelihood."
)
STREAMED_PRIOR = (
    "this data is read by chunks: the prior's scale is the data's covariance matrix, which needs the data in "
    "memory (raise the memory limit in the Run box and open the file again)"
)


class ChoiceBox(QComboBox):
    """A combo box that may be narrower than its longest item (the panel fits a small window's dock); where its
    choice is cut ('default (kmea…'), its tooltip starts with the whole choice."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(COMBO_MIN_CHARACTERS)

    def text_room(self) -> int:
        """The pixels the choice's text has (the edit field less the icon, as the style draws it)."""
        option = QStyleOptionComboBox()
        self.initStyleOption(option)
        field = self.style().subControlRect(
            QStyle.ComplexControl.CC_ComboBox, option, QStyle.SubControl.SC_ComboBoxEditField, self
        )
        icon = self.iconSize().width() + ICON_GAP if not self.itemIcon(self.currentIndex()).isNull() else 0
        return field.width() - icon

    def missing_width(self, texts: tuple[str, ...] = ()) -> int:
        """How many pixels wider the box must be to show each of its items (and texts) whole; 0 when it is."""
        metrics = self.fontMetrics()
        widths = [metrics.horizontalAdvance(t) for t in (*(self.itemText(i) for i in range(self.count())), *texts)]
        return max(0, max(widths, default=0) - self.text_room())

    def cut(self) -> bool:
        """Whether the choice shown is cut to fit the box."""
        return self.fontMetrics().horizontalAdvance(self.currentText()) > self.text_room()

    def whole_tip(self) -> str:
        """The tooltip: the whole choice first where it is cut, then the box's own tooltip."""
        if not self.cut():
            return self.toolTip()
        return self.currentText() + (f"\n\n{self.toolTip()}" if self.toolTip() else "")

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and self.cut():
            QToolTip.showText(event.globalPos(), self.whole_tip(), self)
            return True
        return super().event(event)


def combo(items) -> ChoiceBox:
    """A ChoiceBox of these items."""
    c = ChoiceBox()
    c.addItems(list(items))
    return c


def covariance_combo(engine) -> QComboBox:
    """The registered covariance types by family (spherical, diagonal, ellipsoidal: mclust's order, a separator
    between families), each with its shape's glyph and its meaning as tooltip; the first registered is chosen."""
    from .model_legend import registry_order
    from .model_style import family, glyph_pixmap, meaning

    models = {name: t.model or name for name, t in engine.COVARIANCE_TYPES.items()}
    c = combo([])
    last = None
    for name, model in sorted(models.items(), key=registry_order):
        if last is not None and family(model) != last:
            c.insertSeparator(c.count())
        last = family(model)
        c.addItem(QIcon(glyph_pixmap(model)), name)
        tip = meaning(model) + ("" if model == name else f" ({name}: {engine.COVARIANCE_TYPES[name].description})")
        c.setItemData(c.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
    c.setCurrentText(next(iter(models), ""))
    c.setToolTip("The covariance model (mclust's name: volume, shape, orientation; E equal, V varying, I identity)")
    return c


def prior_refusal(algorithm: str, covariance_type: str, streamed: bool) -> str:
    """Why mclust's default prior cannot be fitted with these settings ('' when it can): data read by chunks, an
    algorithm other than exact EM, or one of the four models mclust fits no prior for."""
    import engine

    if streamed:
        return STREAMED_PRIOR
    if algorithm != "em":
        return f"the prior is fitted by exact EM (MAP EM): choose the algorithm em, not {algorithm}"
    known = engine.COVARIANCE_TYPES.get(covariance_type)
    model = (known.model if known is not None else None) or covariance_type
    if model not in engine.PRIOR_MODELS:
        return f"mclust fits no prior for {model}: choose one of {', '.join(engine.PRIOR_MODELS)}"
    return ""


class PriorChoice(ChoiceBox):
    """none / mclust's default. `wanted` is the user's choice; `prior()` what a fit uses (None while refused)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.addItems(list(PRIOR_ITEMS))
        self.setToolTip(PRIOR_TIP)
        self.wanted = 0  # the index the user chose (kept while refused)
        self.refusal = ""
        self.activated.connect(self._chosen)

    def _chosen(self, index: int) -> None:
        self.wanted = index

    def prior(self) -> str | None:
        """FitConfig.prior: 'default' when chosen and allowed, else None."""
        return "default" if self.isEnabled() and self.currentIndex() == 1 else None

    def want(self, prior: str | None) -> None:
        """Choose a prior (a session's, a loaded fit's, the settings'): shown unless refused."""
        self.wanted = 1 if prior else 0
        self.refuse(self.refusal)

    def refuse(self, why: str) -> None:
        """Refused ('none' shown, disabled, `why` as its tooltip) when why is not empty; else the choice comes back."""
        self.refusal = why
        self.setEnabled(not why)
        self.setCurrentIndex(0 if why else self.wanted)
        self.setToolTip(f"No prior: {why}" if why else PRIOR_TIP)

    def save(self, settings: QSettings, key: str = "prior") -> None:
        settings.setValue(key, PRIOR_ITEMS[self.wanted])

    def restore(self, settings: QSettings, key: str = "prior") -> None:
        value = settings.value(key)
        if value in PRIOR_ITEMS:
            self.want(PRIOR_ITEMS.index(value) == 1)
