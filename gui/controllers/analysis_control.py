"""The two analyses beside the fit: every algorithm side by side from one start (Compare tab), and model
selection over K and covariance types (Model selection tab), whose fits load into the main view."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from PySide6.QtWidgets import QTabWidget

from ..background import Background
from ..scene.frames import Frame, build_frame
from ..state import WindowState
from ..views.compare import CompareView, comparison_configs, initial_params
from ..views.controls import ControlPanel
from ..views.selection_view import SelectionView
from ..views.timeline import Timeline

# data read by chunks (bigger than the memory limit): what the window does not run on it, and what does
CHUNKED_COMPARE = (
    "this data is read by chunks (bigger than the memory limit): only exact EM fits it, a pass per iteration "
    "(Run). The other algorithms need the data in memory: raise the memory limit (Run panel) and open it again."
)

MISSING_REFUSED = (
    "this data has missing values: only Run (exact EM on each point's observed values) fits them; {} would need "
    "complete points: remove or fill the incomplete rows in the file to use it"
)


def select_command(dataset, weights) -> str:
    """The command line that selects models on this file with its missing values (its columns and weights)."""
    import shlex

    words = ["python3", "main.py", "select", dataset.source, "--columns", ",".join(dataset.columns)]
    if weights is not None:
        words += ["--weights", weights.name]
    return shlex.join([*words, "--missing", "em"])


WEIGHTED_COMPARE = (
    "this data is weighted (its column {!r}): only exact EM fits weights (Run, Model selection); the other "
    "algorithms would fit every point once"
)

PINNED_COMPARE = (
    "parameters are pinned: only exact EM keeps pins, so the algorithms cannot be compared with them: unpin them "
    "(right-click a component, Unpin all) to compare"
)
PINNED_SELECTION = "model selection fits each K and model from its own starts, without the pins (they are for Run)"


class CompareControl:
    """Run all: the registered algorithms from the panel's initialisation, at the same time."""

    def __init__(
        self, state: WindowState, view: CompareView, tabs: QTabWidget, run_control, tasks: Background, messages
    ) -> None:
        self.state, self.view, self.tabs, self.run_control = state, view, tabs, run_control
        self.tasks, self.messages = tasks, messages
        view.run_button.clicked.connect(self.run)
        view.error.connect(lambda message: messages.error("The comparison stopped", message))
        state.scene_changed.connect(lambda: view.show_scene(state.scene))
        state.view_changed.connect(lambda: view.show_view(state.scene))

    def run(self) -> None:
        if self.state.stream is not None:
            self.messages.error("Cannot compare on this data", CHUNKED_COMPARE)
            return
        if self.state.weights is not None:
            self.messages.error("Cannot compare on this data", WEIGHTED_COMPARE.format(self.state.weights.name))
            return
        if self.state.scene is not None and self.state.scene.ticks is not None:
            self.messages.error("Cannot compare on this data", MISSING_REFUSED.format("comparing algorithms"))
            return
        config = self.run_control.checked_config()
        if config is None:
            return
        if config.fixed is not None:
            self.messages.error("Cannot compare with pinned parameters", PINNED_COMPARE)
            return
        scene = self.state.scene
        self.tabs.setCurrentWidget(self.view)
        self.messages.note(f"comparing {', '.join(self.view.panels)} from the same start…", 5000)
        self.tasks.run(
            lambda: comparison_configs(config, initial_params(scene.points, config)),
            lambda configs: self.view.start(scene, configs) if self.state.scene is scene else None,
            self.messages.failed("Could not start the comparison"),
        )


class SelectionControl:
    """BIC/ICL/AIC over K and covariance types (with the tab's start and prior) in the background; a clicked
    fit becomes the shown one."""

    def __init__(
        self,
        state: WindowState,
        view: SelectionView,
        tabs: QTabWidget,
        controls: ControlPanel,
        timeline: Timeline,
        run_control,
        tasks: Background,
        messages,
    ) -> None:
        self.state, self.view, self.tabs, self.controls, self.timeline = state, view, tabs, controls, timeline
        self.run_control, self.tasks, self.messages = run_control, tasks, messages
        view.run_button.clicked.connect(self.run)
        view.load_fit.connect(self.load_fit)
        view.failed.connect(self._failed)
        state.scene_changed.connect(view.clear)
        state.scene_changed.connect(lambda: view.set_streamed(state.stream is not None))

    def run(self) -> None:
        """The panel's other settings over the tab's K range, restarts and covariance types."""
        import engine

        config = self.run_control.checked_config()
        if config is None:
            return
        if config.fixed is not None:  # pins hold the panel's start, which the grid does not use either
            config = replace(config, fixed=None)
            self.messages.note(PINNED_SELECTION, 8000)
        if self.view.prior.prior() is not None and config.algorithm != "em":
            self.messages.error(
                "Check the selection's settings",
                f"the prior is fitted by exact EM (MAP EM): choose the algorithm em in the Model panel, not "
                f"{config.algorithm}, or the prior none",
            )
            return
        left_out = self.view.grid_types()[1]
        if not self.view.grid_types()[0]:
            self.messages.error(
                "Check the selection's settings",
                f"mclust fits no prior for {', '.join(left_out)}: tick a model it fits one for, or choose the prior "
                "none",
            )
            return
        stream = self.state.stream
        if stream is not None:  # the whole grid as one batched EM, a pass per iteration on this machine
            from ..scene.big_data import grid_data

            self.tabs.setCurrentWidget(self.view)
            self.view.start(lambda report, cells: grid_data(stream, config.seed, cells, report), config)
            return
        if self.state.scene.ticks is not None:  # the engine's select fits complete data only
            refused = MISSING_REFUSED.format("the window's model selection")
            command = select_command(self.state.dataset, self.state.weights)  # (the command line's selects on it)
            said = f"{refused}, or select models on it with: {command}"
            self.messages.error("Cannot select models on this data", said)
            return
        n, d = self.state.scene.points.shape
        k_max = max(self.view.k_from.value(), self.view.k_to.value())
        try:
            engine.check_selection(n, d, k_max, self.view.restarts.value(), "the data", "'K to'")
        except engine.UserError as exc:
            self.messages.error("Check the selection's settings", str(exc))
            return
        self.tabs.setCurrentWidget(self.view)
        self.view.start(self.state.scene.points, config, self.state.scene.weights)

    def _failed(self, message: str, internal: bool) -> None:
        self.messages.error("Model selection stopped", message.strip().splitlines()[-1], message if internal else "")

    def load_fit(self, entry) -> None:
        """Show a finished fit (a model selection entry) as the current fit: plot, table, its log-likelihood
        curve, exports; the panel takes that fit's settings (K, covariance type, restarts), so Run fits what is
        shown."""
        snap = entry.snapshot
        self.run_control.cancel()
        self.controls.show_fit_settings(snap.config)
        scene = self.state.scene
        self.state.forget_fit()
        self.state.set_job(None, False)  # the loaded fit replaces the current one (its end is ignored)
        self.run_control.update_buttons()
        history = (
            entry.trace
            if entry.trace is not None and len(entry.trace)
            else np.array([(snap.iteration, snap.mean_log_likelihood)])
        )

        def done(frame: Frame) -> None:
            if self.state.scene is scene:
                self.state.set_latest(frame)
                self.state.set_frame(frame)  # the timeline follows it (its own iterations; nothing to replay)
                self.messages.note(
                    f"loaded the K={snap.n_components} {snap.config.covariance_type} fit from model selection"
                )

        self.tasks.run(
            lambda: build_frame(scene, snap, history, (), None), done, self.messages.failed("Could not show that fit")
        )
