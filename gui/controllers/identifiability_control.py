"""The Restarts tab's "Identifiability": how often each solution's components are identifiable (issue 25), by a
bootstrap of each optimum of the gallery, run in the background on demand.

One owner: this controller runs one computation at a time on its own Background (a child of the window, so that
closing the window cancels and awaits it). New data, a new fit and closing the window cancel it and drop its
result: the column belongs to the gallery of the fit it bootstrapped. Pressing the button again while it runs
cancels it.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject

from ..background import Background
from ..state import WindowState
from ..views.gallery import GalleryPanel


class IdentifiabilityControl(QObject):
    """Starts, cancels and shows the identifiability of the gallery's optima."""

    def __init__(self, state: WindowState, panel: GalleryPanel, messages, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state, self.panel, self.messages = state, panel, messages
        self.background = Background(self, threads=1)
        self.running = False
        self._token = None  # the running computation's engine.CancelToken
        self._run_id = 0  # a result whose id is not the newest is dropped
        self._note = ""  # the progress note on the status bar
        panel.identify_requested.connect(self.toggle)
        state.data_changed.connect(self.drop)
        state.scene_changed.connect(self.drop)
        state.job_changed.connect(self._job_changed)
        self._job = state.job

    def toggle(self) -> None:
        """The button: start, or cancel the one running."""
        if self.running:
            self.cancel()
            self.messages.note("identifiability cancelled", 5000)
        else:
            self.start()

    def start(self, replicates: int | None = None) -> bool:
        """Bootstrap each optimum of the gallery on screen `replicates` times (engine's default: 50), nonparametric,
        from the fit's seed, with its settings, data and frequency weights (with missing values: missing-values EM
        in each replicate). False when there is nothing to do."""
        import engine

        gallery, job = self.panel.gallery, self.state.job
        if gallery is None or job is None or self.state.job_active:
            self.messages.note("Identifiability: run a fit with restarts to its end first")
            return False
        if self.state.stream is not None:
            self.messages.error(
                "Identifiability", "the bootstrap needs the data in memory: this file is read by chunks"
            )
            return False
        self.cancel()
        self._run_id += 1
        run_id, token = self._run_id, engine.CancelToken()
        self._token, self.running = token, True
        b = replicates or engine.IDENTIFIABILITY_REPLICATES
        points, config, weights, solutions = job.scene.points, job.config, job.scene.weights, gallery.solutions
        t0 = time.perf_counter()

        def work(emit):
            def progress(done: int, total: int) -> None:  # streamed to the GUI thread
                emit((done, total))

            return engine.gallery_identifiability(points, solutions, config, b, weights=weights, cancel=token,
                                                  progress=progress)  # fmt: skip

        self.background.run(
            work,
            lambda found: self._done(run_id, found, time.perf_counter() - t0),
            lambda message, internal: self._failed(run_id, message, internal),
            on_item=lambda item: self._progress(run_id, b, *item),
            cancel=token.cancel,
        )
        self.panel.set_identifying(True)
        return True

    def cancel(self) -> None:
        """Stop the running computation (its result, when it comes, is dropped)."""
        if self._token is not None:
            self._token.cancel()
        self._run_id += 1
        self._token, self.running = None, False
        self.panel.set_identifying(False)
        self.messages.withdraw(self._note)

    def drop(self) -> None:
        """Cancel, and forget the shown shares (the panel's gallery goes with new data or a new fit)."""
        self.cancel()
        self.panel.set_identifiability(None)

    def _job_changed(self) -> None:
        if self.state.job is not self._job or self.state.job_active:
            self._job = self.state.job
            self.drop()

    def _progress(self, run_id: int, replicates: int, done: int, total: int) -> None:
        if run_id == self._run_id:
            self._note = f"identifiability: bootstrapping optimum {done + 1} of {total} ({replicates} replicates)…"
            self.messages.note(self._note, 0)

    def _done(self, run_id: int, found: dict, seconds: float) -> None:
        if run_id != self._run_id:
            return  # cancelled, or superseded: dropped
        self._token, self.running = None, False
        self.panel.set_identifying(False)
        import engine

        self.messages.withdraw(self._note)
        self.panel.set_identifiability(found)  # the same fit's gallery (a new fit or data dropped the run)
        self.messages.note(f"{engine.describe_identifiability(found)} ({seconds:.1f} s)", 15000)

    def _failed(self, run_id: int, message: str, internal: bool) -> None:
        if run_id != self._run_id:
            return
        self._token, self.running = None, False
        self.panel.set_identifying(False)
        self.messages.error("Identifiability failed" + (" (an internal error)" if internal else ""), message)

    def shutdown(self, msecs: int = 30_000) -> bool:
        self.cancel()
        return self.background.shutdown(msecs)
