"""The main window: it builds the layout (plot, controls, log-likelihood chart, tabs, menus, status bar) and
wires the window's state, its views and its controllers together.

Every widget lives in the GUI thread. Work that can take longer than ~50 ms runs elsewhere: the fit and its
frames, the selection sweep, loading, generating, replaying and exporting through gui.background.Background;
results come back as queued signals and go into the WindowState, whose signals the views follow.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QDockWidget,
    QLabel,
    QLineEdit,
    QMainWindow,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QStyle,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from .background import Background, shutdown_all
from .controllers.analysis_control import CompareControl, SelectionControl
from .controllers.data_control import DataControl
from .controllers.export_control import ExportControl
from .controllers.identifiability_control import IdentifiabilityControl
from .controllers.pin_control import PinControl
from .controllers.replay_control import ReplayControl
from .controllers.restart_control import RestartControl
from .controllers.run_control import RunControl
from .controllers.session_control import SessionControl
from .controllers.uncertainty_control import UncertaintyControl
from .controllers.view_control import ViewBar, ViewControl
from .state import WindowState
from .views.compare import CompareView
from .views.controls import ControlPanel
from .views.fit_view import Chart, FitView, StatusLabels
from .views.gallery import GalleryPanel
from .views.menus import Menus, ShortcutsFirst
from .views.messages import Messages
from .views.pairs_view import PairsView
from .views.param_table import ParamTable
from .views.plot_style import add_light_grid, room_for_edge_ticks
from .views.plot_view import PlotView
from .views.selection_view import SelectionView
from .views.status_bar import StatusBar
from .views.timeline import Timeline

PLOT_MIN_HEIGHT = 200  # pixels: at any window size the plot stays a plot
LL_LABEL = "mean log-lik"  # the chart's y title, short enough to fit its axis at the window's minimum size
CHART_MARGIN = 6  # pixels above and below the chart's axes
SHUTDOWN_WAIT_MS = 30_000  # the longest a close waits for the background work (a fit ends within its iteration)


class MainWindow(QMainWindow):
    """GMM Studio's window. `settings` is where geometry, model settings and recent files persist."""

    def __init__(self, settings: QSettings | None = None) -> None:
        super().__init__()
        self.setWindowTitle("GMM Studio")
        self.settings = settings if settings is not None else QSettings()
        self.state = WindowState(self)  # a child: deleted with the window, on the GUI thread
        self.messages = Messages(self)
        self.tasks = Background(self)
        self._widened = False  # the Controls dock was widened for its choices (on the first show)
        self._build_widgets()
        self._build_controllers()
        self.menus = Menus(self)
        self._shortcuts_first = ShortcutsFirst(self)
        for field in self.findChildren(QLineEdit) + self.findChildren(QAbstractSpinBox):
            field.installEventFilter(self._shortcuts_first)
        self._wire_panel()
        self._restore_settings()
        self._closed = False
        QApplication.instance().aboutToQuit.connect(self.shutdown)
        self.run_control.load_engine()
        self.data.show_demo()
        self.run_control.update_buttons()

    # ================================================================== layout
    def _build_widgets(self) -> None:
        """The window's widgets and layout: the plot over the lower panel, the controls' dock, the status bar."""
        self._build_plots()
        self._build_tabs()
        self._build_splitter()
        self._build_dock()
        self._build_status()
        self.setAcceptDrops(True)
        self.resize(1280, 860)

    def _build_plots(self) -> None:
        """The plot (or the pairs matrix in its place), the view bar and the log-likelihood curve."""
        self.plot = PlotView()
        self.plot.setMinimumHeight(PLOT_MIN_HEIGHT)
        self.pairs = PairsView()
        self.view_bar = ViewBar()
        self.plot_stack = QStackedWidget()  # the plot in a 2-D view, or the pairs matrix
        self.plot_stack.addWidget(self.plot)
        self.plot_stack.addWidget(self.pairs)
        self.ll_plot = pg.PlotWidget(background="w")
        self.ll_plot.setLabel("bottom", "iteration")
        self.ll_plot.setLabel("left", LL_LABEL)
        self.ll_plot.setToolTip("the mean log-likelihood per point at each iteration")
        add_light_grid(self.ll_plot)
        room_for_edge_ticks(self.ll_plot)
        self.ll_plot.setMinimumHeight(chart_min_height(self.ll_plot))
        self.ll_curve = self.ll_plot.plot([], [], pen=pg.mkPen("#1f4e79", width=2))
        self.ll_marker = pg.InfiniteLine(angle=90, pen=pg.mkPen("#888", style=Qt.PenStyle.DashLine))
        self.ll_plot.addItem(self.ll_marker)

    def _build_tabs(self) -> None:
        """The lower panel: the log-likelihood curve beside the tabs (parameters, restarts, compare, selection)."""
        self.table = ParamTable()
        self.gallery_panel = GalleryPanel()
        self.compare = CompareView()
        self.selection = SelectionView()
        self.tabs = QTabWidget()
        self.tabs.currentChanged.connect(self._size_tabs)
        for widget, title in (
            (self.table, "Parameters"),
            (self.gallery_panel, "Restarts"),
            (self.compare, "Compare algorithms"),
            (self.selection, "Model selection"),
        ):
            self.tabs.addTab(widget, title)
        self.bottom = bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.addWidget(self.ll_plot)
        bottom.addWidget(self.tabs)
        bottom.setSizes([400, 600])

    def _build_splitter(self) -> None:
        """The plot with its view bar and timeline above the scrolling lower panel."""
        self.timeline = Timeline()
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.view_bar)
        top_layout.addWidget(self.plot_stack, 1)
        top_layout.addWidget(self.timeline)
        # The lower panel scrolls inside its share: its tabs' minimum sizes never squeeze the plot, and
        # switching tabs never moves the splitter (the plot keeps the share the user gave it). A tab is never
        # squeezed below its own minimum either (its parts would overlap: the Compare verdict over its charts);
        # where the share is smaller, the panel scrolls.
        self._size_tabs(self.tabs.currentIndex())
        self.lower = QScrollArea()
        self.lower.setWidget(self.bottom)
        self.lower.setWidgetResizable(True)
        self.lower.setFrameShape(QScrollArea.Shape.NoFrame)
        self.lower.setMinimumHeight(self.ll_plot.minimumHeight())  # the chart's axis titles never below the fold
        self.tabs.currentChanged.connect(self._show_tab_bar)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(top)
        self.splitter.addWidget(self.lower)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([620, 250])
        self.setCentralWidget(self.splitter)

    def _build_dock(self) -> None:
        """The controls in a dock that scrolls up and down."""
        self.controls = ControlPanel()
        self.controls_scroll = scroll = QScrollArea()
        scroll.setWidget(self.controls)
        scroll.setWidgetResizable(True)
        # the panel scrolls up and down only: the dock is as wide as the panel's narrowest layout (its combo boxes
        # elide, no row cut), never a strip that scrolls sideways in a small window
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll_bar = scroll.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        scroll.setMinimumWidth(self.controls.minimumSizeHint().width() + scroll_bar + 2 * scroll.frameWidth())
        # the panel starting to scroll (a data label of several lines) takes the scroll bar's width from the choices
        scroll.verticalScrollBar().rangeChanged.connect(self._scrolls_controls)
        self.dock = dock = QDockWidget("Controls", self)
        dock.setObjectName("controls")
        dock.setWidget(scroll)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)

    def _build_status(self) -> None:
        """The status bar (a long note ends in '…' before them) and its permanent labels."""
        self.setStatusBar(StatusBar())
        self.state_label = QLabel("idle")
        self.iter_label = QLabel("iteration –")
        self.ll_label = QLabel("log-likelihood –")
        self.speed_label = QLabel("– it/s")
        for w in (self.state_label, self.iter_label, self.ll_label, self.speed_label):
            w.setMinimumWidth(120)
            self.statusBar().addPermanentWidget(w)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if not self._widened:  # once laid out: the combo boxes' room is known
            self._widened = True
            QTimer.singleShot(0, self.widen_controls)

    def _scrolls_controls(self, _low: int, high: int) -> None:
        """The Controls panel's scroll range changed: once shown, a panel that now scrolls widens again for its
        choices (widen_controls; nothing where they show whole)."""
        if high > 0 and self._widened:
            QTimer.singleShot(0, self.widen_controls)

    def widen_controls(self) -> None:
        """The Controls dock as wide as its choices need to show whole ('default (kmeans++)', 'imported
        parameters'), where the window has the room (the plot keeps its own minimum); in a smaller window they
        are cut with '…' and whole in their tooltips."""
        extra = self.controls.missing_width()
        if extra:
            self.resizeDocks([self.dock], [self.dock.width() + extra], Qt.Orientation.Horizontal)

    def _size_tabs(self, current: int) -> None:
        """The tabs ask for the room of the tab shown, not of the largest one (the Parameters tab does not scroll
        because the Compare tab needs more): the others' sizes are ignored until shown."""
        ignored, shown = QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred
        for i in range(self.tabs.count()):
            policy = shown if i == current else ignored
            self.tabs.widget(i).setSizePolicy(policy, policy)
        self.tabs.updateGeometry()

    def _show_tab_bar(self) -> None:
        """Another tab: the lower panel scrolls back to its top, so that the tab bar and the log-likelihood chart's
        top are in view (a panel left scrolled down by the tab before showed neither)."""
        self.lower.verticalScrollBar().setValue(0)

    # ================================================================== wiring
    def _build_controllers(self) -> None:
        """The views follow the state; each controller gets what it works on."""
        state, messages, tasks, controls, timeline = self.state, self.messages, self.tasks, self.controls, self.timeline
        labels = StatusLabels(self.state_label, self.iter_label, self.ll_label, self.speed_label)
        chart = Chart(self.ll_plot, self.ll_curve, self.ll_marker)
        self.fit_view = FitView(state, self.plot, self.table, chart, labels, timeline, messages, controls.data_label)
        self.run_control = run = RunControl(state, controls, messages, self)
        self.data = DataControl(state, controls, run, tasks, messages, self.settings, self)
        self.files = ExportControl(state, controls, run, self.plot, self.gallery_panel, tasks, messages)
        self.sessions = SessionControl(state, controls, run, self.data, tasks, messages)
        self.replay = ReplayControl(state, timeline, self.plot, self.table, controls, run, tasks, messages)
        self.restarts = RestartControl(state, self.gallery_panel, self.tabs, timeline, self.replay, tasks, messages)
        self.identifiability = IdentifiabilityControl(state, self.gallery_panel, messages, self)
        self.compare_control = CompareControl(state, self.compare, self.tabs, run, tasks, messages)
        self.selection_control = SelectionControl(
            state, self.selection, self.tabs, controls, timeline, run, tasks, messages
        )
        self.gallery_panel.export_requested.connect(self.files.export_gallery_dialog)
        self.views = ViewControl(state, self.view_bar, self.plot_stack, self.plot, self.pairs, tasks, messages)
        self.uncertainty = UncertaintyControl(state, self.plot, self.pairs, self.table, messages, self)
        self.sessions.uncertainty = self.uncertainty
        self.pins = PinControl(state, self.plot, self.table, controls, run, messages)

    def _wire_panel(self) -> None:
        c, run, data = self.controls, self.run_control, self.data
        c.generate_button.clicked.connect(data.generate_dialog)
        c.open_button.clicked.connect(data.open_dialog)
        c.draw_button.toggled.connect(self.plot.set_draw_mode)
        c.clear_button.clicked.connect(data.clear_points)
        c.run_button.clicked.connect(run.run)
        c.step_button.clicked.connect(run.step)
        c.pause_button.clicked.connect(run.pause_resume)
        c.stop_button.clicked.connect(run.stop)
        c.reset_button.clicked.connect(run.reset)
        self.plot.view_box.points_drawn.connect(data.add_points)

    def dragEnterEvent(self, event) -> None:
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        files = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if files:
            event.acceptProposedAction()
            self.data.open_path(files[0])

    # ================================================================== settings, closing
    def _restore_settings(self) -> None:
        for key, restore in (
            ("window/geometry", self.restoreGeometry),
            ("window/state", self.restoreState),
            ("window/splitter", self.splitter.restoreState),
        ):
            value = self.settings.value(key)
            if value is not None:
                restore(value)
        self.controls.restore(self.settings)

    def save_settings(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.setValue("window/splitter", self.splitter.saveState())
        self.controls.save(self.settings)
        self.settings.sync()

    def closeEvent(self, event) -> None:
        """Save settings, stop the fit and end its thread before the window goes."""
        self.save_settings()
        self.shutdown()
        event.accept()

    def shutdown(self, msecs: int = SHUTDOWN_WAIT_MS) -> bool:
        """End all the window's background work (also when the application quits without closing us): every
        Background under the window (fits, Compare, Selection, loads, passes, exports) stops taking work and is
        asked to cancel, all at once; the cluster's client closes on the fits' thread after the fit; then one wait
        for all of them (at most msecs). The window says it is stopping while it waits. True when all ended."""
        if self._closed:
            return True
        self._closed = True
        busy = any(background.busy for background in self.findChildren(Background))
        if busy:
            self.state_label.setText("stopping…")
            self.statusBar().showMessage("stopping the background work before the window closes…")
            self.statusBar().repaint()
        self.run_control.cancel()
        self.uncertainty.cancel()
        self.compare.stop()
        self.selection.stop()
        # the Dask client (if any) closes on the fits' thread, after the fit: the thread that made and used it, and the
        # only one that reads whether there is one (a fit may be connecting right now)
        last = {self.run_control.fits: self.run_control.cluster.close}
        return shutdown_all(self.findChildren(Background), msecs, last)


def chart_min_height(chart: pg.PlotWidget) -> int:
    """The least height (pixels) at which the chart shows both axis titles whole: its bottom axis (a line of tick
    values over its title, each about a title's box high: the axis lays itself out only once drawn) under a left
    axis as long as its rotated title, under the room kept above the view (plot_style.room_for_edge_ticks)."""
    left = chart.getAxis("left")
    title = QFontMetrics(left.label.font()).horizontalAdvance(left.label.toPlainText().strip())
    above = chart.plotItem.layout.getContentsMargins()[1]
    return int(np.ceil(2 * left.label.boundingRect().height() + title + 2 * CHART_MARGIN + above))
