"""Pinned parameters in the window (issue 25): right-click a component (on the plot, near its mean or inside its
ellipses; or its row of the parameter table) to pin its mean, covariance or weight; drag a pinned mean's pin to
move its fixed value.

A pin is the command line's `fit --init p.json --fix ...` and nothing else: the shown parameters become the start
(ControlPanel.set_imported) and the pins the panel's `fixed` (an engine.FixedParams), so Run and Step go through
the engine's one constrained M-step. A pin the engine would refuse is refused at once, in the engine's words,
before anything changes. The pins live with the start they pin: new data, another K, another covariance model or
another initialisation drops them (ControlPanel.set_imported drops them for a start from elsewhere, a file).
Unpinning the last pin gives back the start the panel had before the first pin: a start the user imported (a file,
a session, set by hand, continued from) stays; else the panel's initialisation and its restarts, as a fit without
pins would start.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QMenu

from ..state import WindowState
from ..views.controls import IMPORTED_INIT, ControlPanel
from ..views.param_table import ParamTable
from ..views.pin_marks import KIND_WORDS, PinMarks, mark_table
from ..views.plot_view import PlotView

KINDS = ("means", "covariances", "weights")  # the menu's order
MENU_WORDS = {"means": "Pin mean", "covariances": "Pin covariance", "weights": "Pin weight"}
NEAR_PX = 25.0  # a right-click this close to a mean (in pixels) is on that component
NEAR_SIGMAS = 3.0  # else inside a component's 3-sigma ellipse (the outer ring drawn): the closest one by Mahalanobis


class PinControl:
    """The pins' menus, their checks, their marks on the plot and in the table, and the drag of a pinned mean."""

    def __init__(
        self, state: WindowState, plot: PlotView, table: ParamTable, controls: ControlPanel, run_control, messages
    ) -> None:
        self.state, self.plot, self.table, self.controls = state, plot, table, controls
        self.run_control, self.messages = run_control, messages
        self.marks = PinMarks(plot)
        self.menu: QMenu | None = None  # the menu on screen (kept: a menu without a reference closes at once)
        self.before: Before | None = None  # the panel's start before the first pin (given back when none is left)
        plot.view_box.context_hook = self.plot_menu
        table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        table.customContextMenuRequested.connect(self.table_menu)
        self.marks.mean_dropped.connect(self.move_mean)
        state.frame_changed.connect(self.show_pins)  # after FitView's (connected first): the table is filled
        state.view_changed.connect(self.show_pins)
        state.data_changed.connect(lambda: self.drop("new data"))
        controls.k.valueChanged.connect(self._k_changed)
        controls.covariance.currentTextChanged.connect(lambda _t: self.drop("another covariance model"))
        controls.init.currentTextChanged.connect(self._init_changed)

    # ------------------------------------------------------------------ what is pinned
    def pinned(self) -> dict[int, list[str]]:
        """{component: its pinned kinds} as the next fit pins them (every weight but one pinned pins that one)."""
        fixed, start = self.controls.fixed, self.controls.init_params
        if fixed is None or start is None:
            return {}
        fixed = fixed.completed(len(start.weights))
        out: dict[int, list[str]] = {}
        for kind in KINDS:
            for k in getattr(fixed, kind):
                out.setdefault(k, []).append(kind)
        return out

    def show_pins(self) -> None:
        """The pins on the plot and in the table, for the frame on screen (of as many components as the start)."""
        frame, start = self.state.frame, self.controls.init_params
        same = frame is not None and start is not None and len(frame.snapshot.weights) == len(start.weights)
        pinned = self.pinned() if same else {}
        self.marks.show(frame, pinned)
        mark_table(self.table, pinned)

    def drop(self, why: str) -> None:
        """No pins from now on (their start was for other data or another model); said when there were some. The
        restarts the pins set to 1 come back (a value chosen since stays), as Unpin all gives them back."""
        # before: pins were made (new data's forget_imported may have cleared the panel's pins already)
        had, before = self.controls.fixed is not None or self.before is not None, self.before
        self.controls.fixed, self.before = None, None
        self.marks.dragging = None
        self.show_pins()
        if not had:
            return
        c, restarts = self.controls, ""
        if before is not None and c.restarts.value() == 1 and before.restarts != 1:
            c.restarts.setValue(before.restarts)
            restarts = f"; restarts {before.restarts} again"
        self.messages.note(
            f"{why}: the pinned parameters were unpinned (pins hold the start they were made on){restarts}"
        )

    def _k_changed(self, k: int) -> None:
        start = self.controls.init_params
        if self.controls.fixed is not None and (start is None or len(start.weights) != k):
            self.drop(f"K = {k}")

    def _init_changed(self, text: str) -> None:
        if text != IMPORTED_INIT:
            self.drop(f"initialisation {text}")

    # ------------------------------------------------------------------ the menus
    def plot_menu(self, point, screen: QPoint) -> bool:
        """A right-click on the plot at point (display units): the pins' menu of the component there; False (the
        view's own menu) where there is none."""
        k = self.component_at(point)
        if k is None:
            return False
        self.open_menu(k, screen)
        return True

    def table_menu(self, pos: QPoint) -> None:
        row = self.table.rowAt(pos.y())
        if row >= 0 and self.state.frame is not None:
            self.open_menu(row, self.table.viewport().mapToGlobal(pos))

    def component_at(self, point: np.ndarray) -> int | None:
        """The component a right-click at point (display units, (2,)) is on: the nearest mean within NEAR_PX pixels,
        else the one whose ellipses it lies deepest inside (within NEAR_SIGMAS); None off every component."""
        frame = self.state.frame
        if frame is None or frame.view_means is None:
            return None
        display = self.plot.display
        px = np.asarray(self.plot.view_box.viewPixelSize(), dtype=np.float64)
        pixels = np.hypot(*((display.to_display(frame.view_means) - point) / px).T)
        if pixels.min() <= NEAR_PX:
            return int(np.argmin(pixels))
        if frame.view_covariances is None:  # 1-D: no ellipses
            return None
        q = display.to_data(point) - frame.view_means  # (K, 2) in data units
        with np.errstate(all="ignore"):
            d2 = np.einsum("ki,kij,kj->k", q, np.linalg.pinv(frame.view_covariances), q)
        d2 = np.where(np.isfinite(d2), d2, np.inf)
        return int(np.argmin(d2)) if d2.min() <= NEAR_SIGMAS**2 else None

    def build_menu(self, k: int) -> QMenu:
        """Component k's menu: pin its mean, covariance, weight (checked when pinned), every covariance (the models
        that share a part of them pin all or none), unpin all of it."""
        menu = QMenu(self.plot)
        title = menu.addAction(f"component {k}")
        title.setEnabled(False)
        pinned = self.pinned().get(k, [])
        for kind in KINDS:
            action = menu.addAction(MENU_WORDS[kind])
            action.setCheckable(True)
            action.setChecked(kind in pinned)
            action.triggered.connect(lambda on, kind=kind: self.pin(k, kind, on))
        menu.addAction("Pin every component's covariance").triggered.connect(lambda: self.pin_every_covariance())
        menu.addSeparator()
        unpin = menu.addAction(f"Unpin all of component {k}")
        unpin.setEnabled(bool(pinned))
        unpin.triggered.connect(lambda: self.unpin_component(k))
        return menu

    def open_menu(self, k: int, screen: QPoint) -> None:
        """Component k's menu at screen (not modal: the event loop goes on)."""
        self.menu = self.build_menu(k)
        self.menu.popup(screen)

    # ------------------------------------------------------------------ pinning
    def chosen(self) -> dict[str, set[int]]:
        """The pins the user chose, by kind (not completed: unpinning a weight of a full set must be possible)."""
        fixed = self.controls.fixed
        return {kind: set(getattr(fixed, kind)) if fixed is not None else set() for kind in KINDS}

    def pin(self, k: int, kind: str, on: bool) -> bool:
        """Pin (on) or unpin component k's kind, from the parameters on screen; True when done."""
        pins = self.chosen()
        (pins[kind].add if on else pins[kind].discard)(k)
        return self.apply(pins, freed=None if on else k)

    def pin_every_covariance(self) -> bool:
        frame = self.state.frame
        if frame is None:
            return False
        pins = self.chosen()
        pins["covariances"] = set(range(len(frame.snapshot.weights)))
        return self.apply(pins)

    def unpin_component(self, k: int) -> bool:
        pins = self.chosen()
        for kind in KINDS:
            pins[kind].discard(k)
        return self.apply(pins, freed=k)

    def apply(self, pins: dict[str, set[int]], freed: int | None = None, start=None) -> bool:
        """Pins (by kind) on the start on screen (or start, an engine.InitParams): checked by the engine first (a
        refusal is its message and nothing changes), then the next fit's start and pins, shown at iteration 0
        (Run or Step from there)."""
        import engine

        frame = self.state.frame
        if frame is None:
            return False
        snap = frame.snapshot
        start = start or engine.InitParams.from_arrays(snap.weights, snap.means, snap.covariances)
        fixed = engine.FixedParams(**{kind: tuple(sorted(c)) for kind, c in pins.items()})
        fixed = fixed if fixed.as_dict() else None
        try:
            self.checked(start, fixed)
        except engine.UserError as exc:
            self.messages.error("That pin is refused", str(exc))
            return False
        if self.controls.fixed is None or self.before is None:  # the first pin: the start it replaces, kept
            self.before = self._panel_start()
        if fixed is None and self.before is not None:
            return self._give_back(self.before)
        self.controls.set_imported(start, "the shown parameters, pinned" if fixed else "the shown parameters")
        self.controls.fixed = fixed
        self.messages.note(self.summary(fixed, freed, len(start.weights)) + self._restarts_one(), 10000)
        self.run_control.reset()
        self.show_pins()
        return True

    def _panel_start(self) -> Before:
        """The start the panel's Run would use now (with no pins)."""
        c = self.controls
        if c.init.currentText() == IMPORTED_INIT and c.init_params is not None:
            return Before(c.init_params, str(c.init.itemData(c.init.currentIndex()) or "imported"), c.restarts.value())
        return Before(None, "", c.restarts.value())

    def _give_back(self, before: Before) -> bool:
        """Nothing pinned any more: the start before the first pin again (an imported one, or the panel's
        initialisation with the restarts the pins set to 1), said in the status line; shown at iteration 0."""
        from engine import counted

        c = self.controls
        self.before = None
        if before.params is not None:
            c.set_imported(before.params, before.description)
            where = f"the imported start ({before.description})"
        else:
            c.forget_imported()
            where = f"the panel's initialisation ({c.init.currentText()})"
        if c.restarts.value() == 1 and before.restarts != 1:  # the pins set it to 1; a value chosen since stays
            c.restarts.setValue(before.restarts)
        restarts = counted(c.restarts.value(), "restart")
        self.messages.note(f"nothing is pinned: Run (F5) starts from {where}, {restarts}", 10000)
        self.run_control.reset()
        self.show_pins()
        return True

    def checked(self, start, fixed) -> None:
        """Raise the engine's UserError for pins it would refuse on start with the panel's algorithm, model and
        prior (one fit: a pinned start is the same for every restart, so the panel's restarts go to 1)."""
        import engine

        c = self.controls
        cfg = engine.FitConfig(
            n_components=len(start.weights),
            algorithm=c.algorithm.currentText(),
            covariance_type=c.covariance.currentText(),
            init_params=start,
            prior=c.prior.prior(),
            fixed=fixed,
        )
        cfg.resolved()

    def _restarts_one(self) -> str:
        """Restarts to 1 when something is pinned (each restart would be the same fit); what was done, said."""
        if self.controls.fixed is None or self.controls.restarts.value() == 1:
            return ""
        self.controls.restarts.setValue(1)
        return " (restarts set to 1: every restart of a pinned fit would start from the same parameters)"

    def summary(self, fixed, freed: int | None, k: int) -> str:
        """The status line after a change of pins: what is pinned now, and why a weight stays pinned."""
        if fixed is None:
            return "nothing is pinned: Run (F5) or Step (F6) fits every parameter from the shown ones"
        full = fixed.completed(k)
        text = "pinned: " + "; ".join(_said(kind, getattr(full, kind)) for kind in KINDS if getattr(full, kind))
        implied = sorted(set(full.weights) - set(fixed.weights))
        if implied:
            text += (
                f" (component {implied[0]}'s weight too: every other weight is pinned and the weights sum to 1"
                + ("; unpin another weight to free it" if freed == implied[0] else "")
                + ")"
            )
        return text + ". Run (F5) or Step (F6) from here"

    def move_mean(self, k: int, point: np.ndarray) -> None:
        """Component k's pinned mean dropped at point (the view's, data units (2,)): moved there in the view's plane
        (its other coordinates kept), the pins kept; the next fit starts there."""
        import engine

        frame = self.state.frame
        if frame is None:
            return
        snap = frame.snapshot
        means = snap.means.copy()
        view = self.state.scene.view if self.state.scene is not None else None
        means[k] = point[:1] if view is None else engine.moved_mean(view, snap.means[k], point)
        start = engine.InitParams.from_arrays(snap.weights, means, snap.covariances)
        if not self.apply(self.chosen(), start=start):
            self.show_pins()  # refused: the pin goes back


@dataclass(frozen=True)
class Before:
    """The panel's start before the first pin: params (an engine.InitParams the user imported, with its
    description) or None (the panel's initialisation), and the restarts."""

    params: object
    description: str
    restarts: int


def _said(kind: str, comps: tuple[int, ...]) -> str:
    """'the mean of component 0', 'the weights of components 0, 1'."""
    word = KIND_WORDS[kind]
    if len(comps) == 1:
        return f"the {word} of component {comps[0]}"
    return f"the {word}s of components {', '.join(map(str, comps))}"
