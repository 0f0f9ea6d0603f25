"""Sessions: save the data's reference, the settings and the fit; open one and run its fit again, saying
whether the result is the saved one."""

from __future__ import annotations

from pathlib import Path

from ..background import Background
from ..scene.weights import Weights
from ..state import WindowState
from ..views.controls import ControlPanel

CHECK_BYTES = 64 << 20  # the memory the pass that checks a session's data read by chunks may take


class SessionControl:
    """Save session / Open session."""

    def __init__(
        self, state: WindowState, controls: ControlPanel, run_control, data_control, tasks: Background, messages
    ) -> None:
        self.state, self.controls, self.run_control, self.data_control = state, controls, run_control, data_control
        self.tasks, self.messages = tasks, messages
        self._saved_fit: dict | None = None  # the opened session's fit, until its re-run ends
        self._saved_boot: dict | None = None  # the opened session's bootstrap, run again once its fit has ended
        # the window's UncertaintyControl: a session's bootstrap is shown as Fit > Uncertainty shows one
        self.uncertainty = None
        self.verdict = ""
        self._same, self._numbers = False, ""  # the opened session's fit: reproduced, and its numbers in words
        run_control.fit_ended.connect(self._check)

    def save(self, path: str) -> bool:
        """Data reference and hash, settings, the current fit and its history, in one file (data read by chunks:
        its hash is taken in one more pass, in the background, and the file written after it). False: nothing
        to save, or it could not be written (the message says why)."""
        import engine

        source = self.state.latest if self.state.latest is not None else self.state.frame
        if source is None:
            self.messages.error("Could not save the session", "there is no fit to save yet: press Run (F5) first")
            return False
        # the fit's own result (what re-running its settings reproduces), whatever iteration or restart is on
        # screen; its config is the resolved one the engine ran
        snap = source.snapshot
        history = engine.History.of_entries(source.entries) if source.entries else None

        boot = self.uncertainty.session_part(snap) if self.uncertainty is not None else None

        def write(ref) -> bool:
            try:
                engine.write_session(path, ref, snap.config, snap, history, source.history, boot)
            except engine.UserError as exc:
                self.messages.error("Could not save the session", str(exc))
                return False
            self.messages.note(f"saved the session to {path}")
            return True

        stream = self.state.stream
        if stream is None:
            return write(self.state.origin)
        self.messages.note(f"saving the session: the SHA-256 of {stream.n_samples:,} points (one pass)…", 0)
        self.tasks.run(
            lambda: engine.chunked_ref(stream.source(), stream.path, stream.rows()),
            write,
            self.messages.failed("Could not save the session"),
        )
        return True

    def open(self, path: str) -> None:
        """Load the session's data (checked against its hash), its settings, and run its fit again."""
        import engine

        try:
            session = engine.read_session(path)
        except engine.UserError as exc:
            self.messages.error("Could not open the session", str(exc))
            return
        if session.data.weights_column is not None and session.data.chunked:  # the window weighs data in memory
            self.messages.error(
                "Could not open the session",
                f"{path} was fitted with frequency weights (column {session.data.weights_column} of its file) on "
                f"data read by chunks, which the window fits unweighted only: replay it with "
                f"`python3 main.py replay {path}`",
            )
            return
        if session.data.missing and session.data.chunked:  # the window fits missing values in memory
            self.messages.error(
                "Could not open the session",
                f"{path} was fitted with missing values on data read by chunks, which the window fits in memory "
                f"only: replay it with `python3 main.py replay {path}`",
            )
            return
        self.messages.note(f"opening {path}: loading its data…", 0)
        if session.data.chunked:
            self._open_chunked(session)
            return

        def done(loaded) -> None:
            points, weights = loaded
            ref = session.data
            if ref.kind == "file":
                dataset = engine.Dataset(points, ref.column_names(), tuple(ref.columns) or (0, 1), ref.path)
            elif ref.kind == "generated":
                k = len(ref.mixture["weights"])
                dataset = engine.Dataset(
                    points, _names(points), _places(points), f"generated: K={k}, N={ref.n:,}, seed {ref.seed}"
                )
            else:
                dataset = engine.Dataset(points, _names(points), _places(points), f"from the session {Path(path).name}")
            self.data_control.set_dataset(dataset, ref, weights=weights)
            self.controls.apply_config(session.config)
            self._saved_fit, self._saved_boot = session.fit, session.bootstrap
            self.run_control.start_fit()

        self.tasks.run(lambda: _load(session.data), done, self.messages.failed("Could not open the session"))

    def _open_chunked(self, session) -> None:
        """A session of data read by chunks: the file checked in one pass (size and SHA-256), read by chunks as
        Open does (its first pass, its image), then the session's settings and its fit again."""
        from ..scene.big_data import window_chunk_rows

        ref = session.data
        rows = window_chunk_rows(CHECK_BYTES, ref.n_features)

        def checked(_source) -> None:
            def run() -> None:
                self.controls.apply_config(session.config)
                self._saved_fit, self._saved_boot = session.fit, None  # (a bootstrap needs the data in memory)
                self.run_control.start_fit()

            self.data_control.open_path(ref.path, list(ref.columns), ask_columns=False, by_chunks=True, on_shown=run)

        self.messages.note(f"{ref.path}: checking the session's data, {ref.n_samples:,} rows (one pass)…", 0)
        self.tasks.run(lambda: ref.open_chunked(rows), checked, self.messages.failed("Could not open the session"))

    def _check(self, status: str) -> None:
        saved, self._saved_fit = self._saved_fit, None
        boot, self._saved_boot = self._saved_boot, None
        if saved is None or self.state.frame is None:
            return
        from engine import counted, replay_differences

        snap = self.state.frame.snapshot
        # as `replay` judges: the same iterations and restart, the log-likelihood to 1e-12 and the parameters to
        # 1e-9 (data read by chunks adds its sums in chunks, whose size may differ from the saved run's)
        self._same = not replay_differences(saved, snap)
        after = counted(snap.iteration, "iteration")
        self._numbers = (
            f"log-likelihood {snap.log_likelihood:.6f} after {after} "
            f"(saved {saved['log_likelihood']:.6f} after {saved['iteration']})"
        )
        self._say()
        if boot is not None and self.uncertainty is not None and snap.done:  # its bootstrap again, as Uncertainty's
            self.uncertainty.start(boot["B"], boot["type"], boot["seed"], saved=boot, replayed=self._say)

    def _say(self, boot: list[str] | None = None) -> None:
        """The status line once a session's fit has run again, and its bootstrap (boot: how its standard errors
        differ from the saved ones, [] when they do not; None: not run)."""
        verdict = "reproduced the saved fit" if self._same else "did NOT reproduce the saved fit"
        if boot == []:
            verdict += (
                " and its bootstrap's standard errors"
                if self._same
                else " (its bootstrap's standard errors are the saved ones)"
            )
        elif boot:
            verdict += f"; its bootstrap's standard errors NOT ({'; '.join(boot)})"
        self.verdict = f"session: {verdict}: {self._numbers}"
        self.messages.note(self.verdict, 20000)

    def save_dialog(self) -> None:
        self.messages.ask_path(self.save, "Save session", "Sessions (*.gmmsession)", "fit.gmmsession")

    def open_dialog(self) -> None:
        self.messages.ask_path(self.open, "Open session", "Sessions (*.gmmsession)", save=False)


def _load(ref) -> tuple:
    """A session's data in memory (N, D), checked against its hash, and the Weights it was fitted with (checked
    against theirs), or None."""
    import engine

    points = ref.load()
    values = ref.load_weights()
    if values is None:
        return points, None
    names = engine.column_names(ref.path)
    name = names[ref.weights_column] if ref.weights_column < len(names) else f"x{ref.weights_column}"
    return points, Weights(values, ref.weights_column, name)


def _names(points) -> tuple[str, ...]:
    """Column names of data with no file to name them: x0, x1, ... (as everywhere)."""
    import engine

    return engine.unnamed_columns(points.shape[1])


def _places(points) -> tuple[int, ...]:
    return tuple(range(points.shape[1]))
