"""The window's menus and shortcuts: each action calls a controller; the Fit actions and the panel's run
buttons are enabled together."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu

from ..scene.frames import SIGMAS
from . import dialogs


class ShortcutsFirst(QObject):
    """On a text field, the window's shortcuts win over the field's own key bindings (Qt's line edit takes
    Ctrl+E, 'end of line', on X11: Export parameters would do nothing while a field had focus)."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.window = window

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            pressed = QKeySequence(event.keyCombination())
            for action in self.window.findChildren(QAction):
                if action.isEnabled() and action.shortcut() == pressed:
                    event.ignore()  # not overridden: the shortcut goes to the window's action
                    return True
        return False


class Menus:
    """File, Fit, View and Help, built on the window's menu bar."""

    def __init__(self, window) -> None:
        self.window = window
        bar = window.menuBar()
        data, files, sessions, run = window.data, window.files, window.sessions, window.run_control
        f = bar.addMenu("&File")
        self._action(f, "&Open data…", data.open_dialog, QKeySequence.StandardKey.Open)
        data.attach_recent_menu(f.addMenu("Open &recent"))
        self._action(f, "&Generate data…", data.generate_dialog, "Ctrl+G")
        f.addSeparator()
        self._action(f, "&Import parameters as initialisation…", files.import_params_dialog, "Ctrl+I")
        self._action(f, "&Export parameters…", files.export_params_dialog, "Ctrl+E")
        self._action(f, "Export &labels and responsibilities…", files.export_labels_dialog)
        self._action(f, "Export &plot (PNG, SVG)…", files.export_plot_dialog)
        self._action(f, "Export restart &gallery…", files.export_gallery_dialog)
        f.addSeparator()
        self._action(f, "&Save session…", sessions.save_dialog, QKeySequence.StandardKey.Save)
        self._action(f, "Open sessio&n…", sessions.open_dialog, "Ctrl+Shift+O")
        f.addSeparator()
        self._action(f, "&Quit", window.close, QKeySequence.StandardKey.Quit)
        r = bar.addMenu("F&it")
        self.run_action = self._action(r, "&Run", run.run, "F5")
        self.step_action = self._action(r, "&Step one iteration", run.step, "F6")
        self.pause_action = self._action(r, "&Pause / resume", run.pause_resume, "Space")
        self.stop_action = self._action(r, "S&top", run.stop, "Esc")
        self.reset_action = self._action(r, "Reset to the &initialisation", run.reset, "Ctrl+R")
        r.addSeparator()
        unc = window.uncertainty
        self.uncertainty_action = self._action(r, "&Uncertainty (bootstrap)…", unc.dialog, "Ctrl+U")
        self.cancel_uncertainty_action = self._action(r, "&Cancel the uncertainty", unc.drop)
        self.cancel_uncertainty_action.setEnabled(False)  # only while a bootstrap runs or is shown
        unc.changed.connect(lambda: self.cancel_uncertainty_action.setEnabled(unc.active))
        self._build_view_menu(bar.addMenu("&View"))
        h = bar.addMenu("&Help")
        keep = window.messages.keep
        self._action(h, "&Keyboard shortcuts", lambda: keep(dialogs.show_shortcuts(window, self.shortcuts())), "F1")
        self._action(h, "&About GMM Studio", lambda: keep(dialogs.show_about(window, run.engine_info)))
        run.buttons_changed.connect(self.enable_fit_actions)

    def _action(self, menu: QMenu, text: str, slot, shortcut=None) -> QAction:
        action = QAction(text, self.window)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_view_menu(self, menu: QMenu) -> None:
        """Checkable overlays: each sigma's ellipses, the density contours, the means' paths."""
        timeline = self.window.timeline
        self.sigma_actions = {
            sigma: self._check_action(menu, f"{sigma:g}-sigma ellipses", key, self._overlays_changed)
            for sigma, key in zip(SIGMAS, ("Ctrl+1", "Ctrl+2", "Ctrl+3"), strict=True)
        }
        self.contours_action = self._check_action(menu, "Density &contours", "Ctrl+4", self._overlays_changed)
        self.paths_action = self._check_action(menu, "Means' &paths", "Ctrl+5", timeline.show_paths.setChecked)
        timeline.show_paths.toggled.connect(self.paths_action.setChecked)
        timeline.trajectories_toggled.connect(lambda on: self.window.plot.set_overlays(paths=on))
        self.uncertainty_shown = self._check_action(
            menu, "&Uncertainty (clouds, bands, ± in the table)", "Ctrl+6", self.window.uncertainty.set_visible
        )

    def _check_action(self, menu: QMenu, text: str, shortcut: str, on_toggled) -> QAction:
        action = QAction(text, self.window)
        action.setShortcut(QKeySequence(shortcut))
        action.setCheckable(True)
        action.setChecked(True)
        action.toggled.connect(on_toggled)
        menu.addAction(action)
        return action

    def _overlays_changed(self, _on: bool = True) -> None:
        self.window.plot.set_overlays(
            sigmas={s for s, a in self.sigma_actions.items() if a.isChecked()},
            contours=self.contours_action.isChecked(),
        )

    def enable_fit_actions(self, can_fit: bool, why: str, active: bool, paused: bool) -> None:
        """Run, Step and Reset when there is data and an engine; Pause and Stop while a fit runs."""
        c = self.window.controls
        for w in (c.run_button, c.step_button, c.reset_button, self.run_action, self.step_action, self.reset_action):
            w.setEnabled(can_fit)
            w.setToolTip(why)
        for w in (c.pause_button, c.stop_button, self.pause_action, self.stop_action):
            w.setEnabled(active)
        c.pause_button.setText("Resume (Space)" if paused else "Pause (Space)")

    def shortcuts(self) -> list[tuple[str, str]]:
        """(key, what it does) for every menu action that has a shortcut, in menu order."""
        out = []
        for menu_action in self.window.menuBar().actions():
            for action in menu_action.menu().actions():
                if not action.shortcut().isEmpty():
                    key = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
                    out.append((key, action.text().replace("&", "").rstrip("…")))
        return out
