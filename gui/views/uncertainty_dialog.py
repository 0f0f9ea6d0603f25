"""Fit > Uncertainty…: how many bootstrap replicates, and of which type (issue 25)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QSpinBox, QWidget

DEFAULT_REPLICATES = 200  # mclust's MclustBootstrap draws 999; 200 give standard errors to about 5%
MAX_REPLICATES = 10_000
TYPES = ("nonparametric", "parametric", "weighted")  # engine.Bootstrap's kinds (tests/gui/test_uncertainty.py)
TYPE_TIPS = {
    "nonparametric": "the points resampled with replacement",
    "parametric": "new points drawn from the fitted mixture",
    "weighted": "the Bayesian bootstrap: each point a random Dirichlet weight",
}
PARAMETRIC_MISSING_TIP = (
    "new points drawn from the fitted mixture, each missing the cells its data row misses (exact when values go "
    "missing completely at random, an approximation when which go missing depends on observed values)"
)


class UncertaintyDialog(QDialog):
    """Asks B (2 to MAX_REPLICATES, default DEFAULT_REPLICATES) and the bootstrap's type; not modal to the event
    loop (open(), then accepted)."""

    def __init__(self, parent: QWidget | None = None, missing: bool = False) -> None:
        """missing: the data has missing values (the parametric type's tip says how its points go missing)."""
        super().__init__(parent)
        self.setWindowTitle("Uncertainty of the fit")
        self.replicates = QSpinBox()
        self.replicates.setRange(2, MAX_REPLICATES)
        self.replicates.setValue(DEFAULT_REPLICATES)
        self.kind = QComboBox()
        for i, kind in enumerate(TYPES):
            self.kind.addItem(kind)
            self.kind.setItemData(i, TYPE_TIPS[kind], Qt.ItemDataRole.ToolTipRole)
        if missing:  # the simulated points keep the data's missingness pattern (engine: replicate_simulated.py)
            self.kind.setItemData(TYPES.index("parametric"), PARAMETRIC_MISSING_TIP, Qt.ItemDataRole.ToolTipRole)
        form = QFormLayout(self)
        form.addRow(
            QLabel("Bootstrap the fit: refit B replicates of the data from its parameters, then draw the spread of\n"
                   "each component's mean (a cloud) and of its 2-sigma ellipse (a band: 95% of the replicates).")
        )  # fmt: skip
        form.addRow("Replicates (B)", self.replicates)
        form.addRow("Type", self.kind)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def choice(self) -> tuple[int, str]:
        """(B, type)."""
        return self.replicates.value(), self.kind.currentText()
