"""The control panel: data buttons, the model's settings, and the run buttons.

`config()` turns the widgets into the engine's FitConfig (or raises UserError naming the field);
`settings_changed` fires on any edit, so the window can stop a running fit before it goes stale.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..scene.big_data import MACHINE
from .model_choices import ChoiceBox, PriorChoice, combo, covariance_combo, prior_refusal

DEFAULT_INIT = "(algorithm's default)"
K_RANGE = (1, 50)
RESTARTS_RANGE = (1, 10_000)
SEED_RANGE = (0, 2**31 - 1)
IMPORTED_INIT = "imported parameters"
# where a fit runs (the Run box): here, a Dask LocalCluster of processes on this machine, or a running scheduler
WHERE = (MACHINE, "local cluster", "scheduler address")


class ControlPanel(QWidget):
    """Data, model and run controls. Holds no state beyond its widgets (plus imported init parameters)."""

    settings_changed = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        import engine  # the torch-free part: config constants

        self.streamed = False  # the data is read by chunks (no prior: set_streamed)
        self.init_params = None  # engine.InitParams imported from a file, used when init is IMPORTED_INIT
        self.fixed = None  # engine.FixedParams: what of init_params the fit keeps (gui.controllers.pin_control)
        self._chosen_covariance = ""  # the covariance type chosen before an algorithm restricted the choice
        self._chosen_init = 0  # the initialisation chosen before imported parameters took its place (its index)
        layout = QVBoxLayout(self)
        layout.addWidget(self._data_box())
        layout.addWidget(self._model_box(engine))
        layout.addWidget(self._run_box())
        layout.addStretch(1)
        for w in (self.k, self.restarts, self.seed):
            w.valueChanged.connect(self.settings_changed)
        for w in (*self._combos().values(), self.device, self.prior):
            w.currentIndexChanged.connect(self.settings_changed)
        for w in (self.tol, self.max_iter, self.reg_covar, self.scheduler):
            w.textEdited.connect(self.settings_changed)
        self.where_box.currentIndexChanged.connect(self._show_where)
        self._show_where()
        self.algorithm.currentTextChanged.connect(self._show_defaults)
        self._show_defaults(self.algorithm.currentText())
        self.covariance.currentTextChanged.connect(self._show_prior)
        self.algorithm.currentTextChanged.connect(self._show_prior)
        self._show_prior()

    # ------------------------------------------------------------------ layout
    def _data_box(self) -> QGroupBox:
        box = QGroupBox("Data")
        grid = QGridLayout(box)
        self.data_label = QLabel("no data")
        self.data_label.setWordWrap(True)
        self.generate_button = QPushButton("Generate…")
        self.open_button = QPushButton("Open…")
        self.draw_button = QPushButton("Draw points")
        self.draw_button.setCheckable(True)
        self.draw_button.setToolTip("Click on the plot to add a point, drag to spray a few")
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Remove every point (then draw your own)")
        grid.addWidget(self.data_label, 0, 0, 1, 2)
        grid.addWidget(self.generate_button, 1, 0)
        grid.addWidget(self.open_button, 1, 1)
        grid.addWidget(self.draw_button, 2, 0)
        grid.addWidget(self.clear_button, 2, 1)
        return box

    def _model_box(self, engine) -> QGroupBox:
        box = QGroupBox("Model")
        form = _form(box)
        self.k = _spin(*K_RANGE, 3)
        self.algorithm = combo(engine.ALGORITHMS)
        self.covariance = covariance_combo(engine)
        self.init = combo([DEFAULT_INIT, *[m for m in engine.INIT_METHODS if m != "params"]])
        self.init.setToolTip(
            "How each restart starts; hc: mclust's model-based hierarchical start (the first restart; "
            "kmeans++ the others)"
        )
        self.prior = PriorChoice()
        self.restarts = _spin(*RESTARTS_RANGE, 1)
        self.seed = _spin(*SEED_RANGE, 0)
        self.tol = QLineEdit()
        self.max_iter = QLineEdit()
        self.reg_covar = QLineEdit(repr(engine.FitConfig.reg_covar))
        self.reg_units = combo(engine.REG_COVAR_UNITS)
        self.device = combo(["cpu"])
        self.precision = combo(engine.DTYPES)
        self.auto_view = QCheckBox("follow the fit live")
        self.auto_view.setChecked(True)
        for label, widget in (
            ("Components K", self.k),
            ("Algorithm", self.algorithm),
            ("Covariance", self.covariance),
            ("Initialisation", self.init),
            ("Prior", self.prior),
            ("Restarts", self.restarts),
            ("Seed", self.seed),
            ("Tolerance", self.tol),
            ("Max iterations", self.max_iter),
            ("reg_covar", self.reg_covar),
            ("reg_covar units", self.reg_units),
            ("Device", self.device),
            ("Precision", self.precision),
        ):
            form.addRow(label, widget)
        self.tol.setToolTip("Stop when the mean log-likelihood per point changes by less than this")
        self.reg_covar.setToolTip("The floor added to every covariance's diagonal (see its units)")
        self.reg_units.setToolTip(
            "relative: reg_covar times each column's variance, so the fit is the same in any units (default)\n"
            "data: reg_covar as it is, in the data's units, as scikit-learn's reg_covar"
        )
        return box

    def _run_box(self) -> QGroupBox:
        box = QGroupBox("Run")
        grid = QGridLayout(box)
        self.run_button = QPushButton("Run (F5)")
        self.step_button = QPushButton("Step (F6)")
        self.pause_button = QPushButton("Pause (Space)")
        self.stop_button = QPushButton("Stop (Esc)")
        self.reset_button = QPushButton("Reset (Ctrl+R)")
        self.engine_label = QLabel("loading the engine (torch, pyro)…")
        self.engine_label.setWordWrap(True)
        self.where_box = combo(WHERE)
        self.where_box.setToolTip(
            "Where data read by chunks (bigger than the memory limit) is fitted: a pass per iteration here, or "
            "on a Dask cluster whose workers hold the data's parts (.npy, Parquet or CSV files they can read)"
        )
        self.scheduler = QLineEdit()
        self.scheduler.setPlaceholderText("tcp://HOST:8786")
        self.scheduler.setToolTip("The address of a running Dask scheduler (`dask scheduler` prints it)")
        self.memory_limit = QLineEdit()
        self.memory_limit.setPlaceholderText(f"default {_default_limit_text()}")
        self.memory_limit.setToolTip(
            "Files bigger than this (in float64) are read by chunks: a density image of all points, a sample "
            "drawn, a pass per iteration. Sizes such as 256M or 2G; applies to files opened from now on. "
            f"Empty: {_default_limit_text()}, {_memory_share()} of this machine's memory."
        )
        where = _form()
        where.addRow("Fit on", self.where_box)
        where.addRow("Scheduler", self.scheduler)
        where.addRow("Memory limit", self.memory_limit)
        grid.addWidget(self.run_button, 0, 0)
        grid.addWidget(self.step_button, 0, 1)
        grid.addWidget(self.pause_button, 1, 0)
        grid.addWidget(self.stop_button, 1, 1)
        grid.addWidget(self.reset_button, 2, 0, 1, 2)
        grid.addLayout(where, 3, 0, 1, 2)
        grid.addWidget(self.engine_label, 4, 0, 1, 2)
        return box

    def missing_width(self) -> int:
        """How many pixels wider the panel must be for every choice of its combo boxes (and the initialisation's
        'imported parameters') to show whole; 0 when they do."""
        boxes = self.findChildren(ChoiceBox)
        return max((b.missing_width((IMPORTED_INIT,) if b is self.init else ()) for b in boxes), default=0)

    def _show_where(self) -> None:
        self.scheduler.setEnabled(self.where_box.currentIndex() == 2)

    def where(self) -> str:
        """Where data read by chunks is fitted: big_data.MACHINE, 'local' (a LocalCluster) or the scheduler's
        address; UserError when the address is missing or malformed."""
        import engine

        index = self.where_box.currentIndex()
        if index == 0:
            return MACHINE
        if index == 1:
            return "local"
        address = self.scheduler.text().strip()
        if not address.startswith(("tcp://", "tls://")) or len(address) <= len("tcp://"):
            raise engine.UserError(
                f"Scheduler: {address!r} is not a Dask scheduler's address: type tcp://HOST:PORT (as `dask "
                "scheduler` prints it), or fit on this machine"
            )
        return address

    def limit_bytes(self) -> int:
        """The memory limit (bytes): the field's size, or the default (a share of the machine's memory)."""
        from engine import default_memory_limit, parse_size

        text = self.memory_limit.text().strip()
        return parse_size(text, "Memory limit") if text else default_memory_limit()

    # ------------------------------------------------------------------ behaviour
    def _show_defaults(self, algorithm: str) -> None:
        """The algorithm's defaults as the empty fields' placeholders, and only the covariance types it fits
        (the user's own choice comes back with an algorithm that fits it)."""
        import engine

        entry = engine.ALGORITHMS[algorithm]
        defaults = entry.defaults
        tol = "0 (run all steps)" if defaults["tol"] == 0 else f"{defaults['tol']:g}"
        self.tol.setPlaceholderText(f"default: {tol}")
        self.max_iter.setPlaceholderText(f"default: {defaults['max_iter']}")
        self.init.setItemText(0, f"default ({defaults['init']})")
        self.algorithm.setToolTip(entry.description)
        supported = entry.supported_covariance_types()
        restricted = len(supported) < len(engine.COVARIANCE_TYPES)
        if restricted and self.covariance.isEnabled():  # remember the user's choice, to give it back after
            self._chosen_covariance = self.covariance.currentText()
        elif not restricted and not self.covariance.isEnabled() and self._chosen_covariance:
            self.covariance.setCurrentText(self._chosen_covariance)
        self.covariance.setEnabled(not restricted)
        if restricted and self.covariance.currentText() not in supported:
            self.covariance.setCurrentText(supported[0])

    def _show_prior(self) -> None:
        """The prior's choice, refused (with why) for what mclust fits no prior for."""
        self.prior.refuse(prior_refusal(self.algorithm.currentText(), self.covariance.currentText(), self.streamed))

    def set_streamed(self, streamed: bool) -> None:
        """The data is read by chunks (or no longer): the prior needs it in memory."""
        self.streamed = streamed
        self._show_prior()

    def set_devices(self, devices: list[str]) -> None:
        current = self.device.currentText()
        self.device.blockSignals(True)
        self.device.clear()
        self.device.addItems(devices)
        self.device.setCurrentText(current if current in devices else "cpu")
        self.device.blockSignals(False)

    def set_imported(self, init_params, description: str, keep_pins: bool = False) -> None:
        """Use imported parameters as the initialisation (K follows them); the initialisation chosen before
        comes back when they are dropped (forget_imported). Pins go unless keep_pins (the same components edited)."""
        self.init_params, self.fixed = init_params, self.fixed if keep_pins else None
        if self.init.currentText() != IMPORTED_INIT:
            self._chosen_init = self.init.currentIndex()
        if self.init.findText(IMPORTED_INIT) < 0:
            self.init.addItem(IMPORTED_INIT)
        self.init.setItemData(self.init.findText(IMPORTED_INIT), description)
        self.k.setValue(len(init_params.weights))
        self.init.setCurrentText(IMPORTED_INIT)

    def show_fit_settings(self, cfg) -> None:
        """K, covariance type and restarts of a fit loaded for display (model selection sets them per fit and
        for the whole grid; its other settings are the panel's already)."""
        self.blockSignals(True)  # showing a finished fit is no settings change that should stop anything
        self.k.setValue(cfg.n_components)
        self.covariance.setCurrentText(cfg.covariance_type)
        self.restarts.setValue(cfg.restarts)
        self.prior.want(cfg.prior)
        if cfg.init in engine_inits():
            self.init.setCurrentText(cfg.init)
        self.blockSignals(False)

    def forget_imported(self) -> bool:
        """Back to the initialisation chosen in the panel (before the start was imported, set by hand or continued
        from) when the start was imported; True if it was."""
        index = self.init.findText(IMPORTED_INIT)
        if index < 0:
            return False
        was_current = self.init.currentIndex() == index
        self.init.blockSignals(True)
        self.init.removeItem(index)
        if was_current:
            self.init.setCurrentIndex(self._chosen_init if self._chosen_init < self.init.count() else 0)
        self.init.blockSignals(False)
        self.init_params = self.fixed = None
        return was_current

    def apply_config(self, cfg) -> None:
        """Show an engine FitConfig in the widgets (a session's settings)."""
        import engine

        self.k.setValue(cfg.n_components)
        self.algorithm.setCurrentText(cfg.algorithm)
        self.covariance.setCurrentText(cfg.covariance_type)
        if cfg.init_params is not None:
            self.set_imported(cfg.init_params, "from the session")
            self.fixed = getattr(cfg, "fixed", None)  # a session keeps its pins
        elif cfg.init is None:
            self.init.setCurrentIndex(0)
        else:
            self.init.setCurrentText(cfg.init)
        self.restarts.setValue(cfg.restarts)
        self.seed.setValue(cfg.seed)
        self.prior.want(getattr(cfg, "prior", None))
        # a session stores the resolved settings: a value equal to the algorithm's default stays an empty field
        # (the default), so that choosing another algorithm later takes that algorithm's own default
        defaults = engine.algorithm_defaults(cfg.algorithm)
        self.tol.setText("" if cfg.tol is None or cfg.tol == defaults["tol"] else repr(cfg.tol))
        self.max_iter.setText("" if cfg.max_iter is None or cfg.max_iter == defaults["max_iter"] else str(cfg.max_iter))
        self.reg_covar.setText(repr(cfg.reg_covar))
        self.reg_units.setCurrentText(cfg.reg_covar_units)
        self.precision.setCurrentText(cfg.dtype)

    def config(self):
        """The engine's FitConfig for the current widgets; UserError naming the field that is wrong."""
        import engine

        init = self.init.currentText()
        imported = init == IMPORTED_INIT
        if imported and self.init_params is not None and len(self.init_params.weights) != self.k.value():
            raise engine.UserError(
                f"the imported parameters have {len(self.init_params.weights)} components but "
                f"K is {self.k.value()}: set K to match or choose another initialisation"
            )
        cfg = engine.FitConfig(
            n_components=self.k.value(),
            algorithm=self.algorithm.currentText(),
            covariance_type=self.covariance.currentText(),
            init=None if self.init.currentIndex() == 0 or imported else init,
            init_params=self.init_params if imported else None,
            fixed=self.fixed if imported else None,
            restarts=self.restarts.value(),
            seed=self.seed.value(),
            tol=_number(self.tol, "Tolerance", float),
            max_iter=_number(self.max_iter, "Max iterations", int),
            reg_covar=_number(self.reg_covar, "reg_covar", float, required=True),
            reg_covar_units=self.reg_units.currentText(),
            device=self.device.currentText(),
            dtype=self.precision.currentText(),
            prior=self.prior.prior(),
        )
        cfg.resolved()  # validates: raises UserError naming the setting
        return cfg

    # ------------------------------------------------------------------ settings
    def save(self, settings: QSettings) -> None:
        settings.beginGroup("model")
        for key, w in self._combos().items():
            settings.setValue(key, w.currentText())
        if self.init.currentText() == IMPORTED_INIT:  # the parameters are not saved: the choice made before them is
            settings.setValue("init", self.init.itemText(self._chosen_init))
        for key, w in self._spins().items():
            settings.setValue(key, w.value())
        for key, w in self._edits().items():
            settings.setValue(key, w.text())
        self.prior.save(settings)
        settings.endGroup()

    def restore(self, settings: QSettings) -> None:
        settings.beginGroup("model")
        self.blockSignals(True)
        for key, w in self._combos().items():
            value = settings.value(key)
            if value is not None and w.findText(str(value)) >= 0:
                w.setCurrentText(str(value))
        for key, w in self._spins().items():
            value = settings.value(key)
            if value is not None:
                w.setValue(int(value))
        for key, w in self._edits().items():
            value = settings.value(key)
            if value is not None:
                w.setText(str(value))
        self.prior.restore(settings)
        self.blockSignals(False)
        settings.endGroup()

    def _combos(self) -> dict[str, QComboBox]:
        return {
            "algorithm": self.algorithm,
            "covariance": self.covariance,
            "init": self.init,
            "precision": self.precision,
            "reg_units": self.reg_units,
            "fit_on": self.where_box,
        }

    def _spins(self) -> dict[str, QSpinBox]:
        return {"k": self.k, "restarts": self.restarts, "seed": self.seed}

    def _edits(self) -> dict[str, QLineEdit]:
        return {
            "tol": self.tol,
            "max_iter": self.max_iter,
            "reg_covar": self.reg_covar,
            "scheduler": self.scheduler,
            "memory_limit": self.memory_limit,
        }


def engine_inits() -> list[str]:
    """The initialisations the panel lists by name (imported parameters aside)."""
    import engine

    return [m for m in engine.INIT_METHODS if m != "params"]


def _default_limit_text() -> str:
    from engine import default_memory_limit, human

    return human(default_memory_limit())


def _memory_share() -> str:
    from engine import MEMORY_SHARE

    return f"{MEMORY_SHARE:.0%}"


def _form(parent: QWidget | None = None) -> QFormLayout:
    """A form whose fields go under their labels where a row does not fit the panel's width (a narrow dock)."""
    form = QFormLayout(parent)
    form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
    return form


def _spin(lo: int, hi: int, value: int) -> QSpinBox:
    s = QSpinBox()
    s.setRange(lo, hi)
    s.setValue(value)
    s.setMinimumWidth(SPIN_MIN_WIDTH)  # not as wide as its largest value (the seed's ten digits) at the least
    return s


SPIN_MIN_WIDTH = 70  # pixels: a spin box's narrowest width (the seed's largest value scrolls inside it)


def _number(edit: QLineEdit, name: str, kind, required: bool = False):
    """The field's number, None when empty (the default), or UserError naming the field and text."""
    import engine

    text = edit.text().strip()
    if not text:
        if required:
            raise engine.UserError(f"{name} is empty: type a number (for example 1e-6)")
        return None
    try:
        return kind(float(text)) if kind is int and float(text).is_integer() else kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise engine.UserError(f"{name}: {text!r} is not {what}") from None
