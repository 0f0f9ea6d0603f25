"""The data on screen: the demo, files (with the column picker, recent files, drag and drop), generated
mixtures and points drawn by hand. Each new data set comes with its engine.DataRef (how a session finds it
again) and replaces everything of the old data's fit."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMenu, QWidget

from ..background import Background
from ..scene.frames import SCATTER_LIMIT, build_scene
from ..scene.weights import Weights
from ..state import WindowState
from ..views import dialogs
from ..views.controls import ControlPanel
from ..views.generate_dialog import GenerateDialog
from .file_loading import load_in_memory, load_weighted_in_memory, window_words

DEMO_N = 1000
DRAWN_DIMENSIONS = 2  # points drawn by hand are 2-D: drawing adds to 2-D data only
MAX_RECENT = 8
DATA_FILTER = "Data (*.csv *.tsv *.txt *.dat *.npy *.npz *.parquet);;All files (*)"


def first_view(dataset, show: tuple[int, int] = (0, 1)):
    """The view new data opens in: the two columns `show` (places among its columns), named; None for 1-D."""
    from engine import columns_view

    d = dataset.points.shape[1] if dataset.points.ndim == 2 else 2
    if d < 2:
        return None
    x, y = show if max(show) < d and show[0] != show[1] else (0, 1)
    return columns_view(d, x, y, tuple(dataset.columns))


class DataControl:
    """Loads, generates, draws and clears data; keeps the recent files."""

    def __init__(
        self,
        state: WindowState,
        controls: ControlPanel,
        run_control,
        tasks: Background,
        messages,
        settings: QSettings,
        parent: QWidget,
    ) -> None:
        self.state, self.controls, self.run_control = state, controls, run_control
        self.tasks, self.messages, self.settings, self.parent = tasks, messages, settings, parent
        self.recent_menu: QMenu | None = None
        self.column_picker = None
        self.missing_question = None  # the question a file with missing cells asks (a test answers it)
        self._opening = 0  # counts files being opened: only the latest one is shown
        # the Generate dialog's last accepted values: (N, seed, (weights, means, covariances) as typed)
        self._last_generated: tuple | None = None

    def show_demo(self) -> None:
        """The forum preset (N=1000, seed 0): the data the Pyro forum recipe was written for."""
        import engine
        from engine import forum_sample

        p = engine.FORUM_PRESET
        points = forum_sample(DEMO_N, seed=0)
        dataset = engine.Dataset(points, engine.unnamed_columns(2), (0, 1), f"demo: forum preset, N={DEMO_N}, seed 0")
        self.set_dataset(dataset, engine.generated_ref(p, DEMO_N, 0, points))

    def set_dataset(
        self,
        dataset,
        origin=None,
        keep_range: bool = False,
        plot_columns: tuple[int, int] = (0, 1),
        weights: Weights | None = None,
        by_hand: bool = False,
    ) -> None:
        """Show a new data set (engine.Dataset) with its engine.DataRef (None: the points themselves, an
        inline reference made with the scene); a running fit is stopped first. keep_range: the view stays
        put (points drawn by hand). plot_columns: the two columns the plot shows first (data of more than 2-D).
        weights: the points' frequency weights (a file's column), fitted and drawn with them; None: unweighted.
        by_hand: the data was drawn (or cleared) on the plot: draw mode stays as it is; any other new data turns
        it off (the user asked for that data, not a canvas: a click would quietly add a point to it).

        Nothing of the previous data's fit survives: paths, start circles, status, chart and iteration go back
        to "no fit yet", and a start imported or set for the old data goes back to the panel's initialisation.
        """
        import engine

        token = self._replace_data(dataset, origin, weights=weights, by_hand=by_hand)
        values = None if weights is None else weights.values

        def work():
            ref = origin if origin is not None else engine.inline_ref(dataset.points)
            return build_scene(dataset.points, first_view(dataset, plot_columns), weights=values), ref

        def show(result) -> None:
            if token == self.state.data_token:  # else superseded by newer data
                scene, self.state.origin = result
                self.state.set_scene(scene, keep_range)

        if len(dataset.points) <= SCATTER_LIMIT:  # O(N) NumPy (and a hash) on at most 50k points: a few ms
            show(work())
        else:
            self.messages.note(f"preparing {len(dataset.points):,} points…", 0)
            self.tasks.run(work, show, self.messages.failed("Could not show the data"))

    def _replace_data(self, dataset, origin, stream=None, weights: Weights | None = None, by_hand: bool = False) -> int:
        """New data in the state (WindowState.set_data; its token): the running fit stopped, the old data's start
        dropped, a file still loading superseded (it would replace this newer data: dropped when it comes), and
        draw mode off unless the data was drawn by hand."""
        self.run_control.stop_for_change("the data changed")
        if not by_hand:
            self.controls.draw_button.setChecked(False)
        self._forget_start()
        self._opening += 1
        return self.state.set_data(dataset, origin, stream, weights)

    def _forget_start(self) -> None:
        """A start imported, set by hand or continued from belongs to the data it was made on: drop it."""
        if self.controls.forget_imported():
            self.messages.note(
                "new data: the start made for the previous data was dropped; the fit "
                f"starts from the panel's initialisation ({self.controls.init.currentText()})",
                10000,
            )

    def add_points(self, new: np.ndarray) -> None:
        """Points drawn by hand are added to the data (as in the classic interactive EM demos)."""
        import engine

        ds = self.state.dataset
        if self.state.stream is not None:
            self.messages.note("this data is read by chunks from its file: Clear first to draw new data", 8000)
            return
        if self.state.weights is not None:  # a drawn point has no weight in the file's column
            self.messages.note(
                f"this data is weighted by its column {self.state.weights.name!r}: Clear first to draw new data", 8000
            )
            return
        if ds is not None and ds.points.shape[1] != DRAWN_DIMENSIONS and len(ds.points):
            self.messages.note(
                f"points drawn by hand are 2-D and the data is {ds.points.shape[1]}-D: Clear first to draw new data",
                8000,
            )
            return
        old = ds.points if ds is not None and len(ds.points) else np.empty((0, 2))
        source = ds.source if ds is not None else ""
        if not source.endswith("(edited by hand)") and source != "drawn by hand":
            source = f"{source} (edited by hand)".strip()
        columns = ds.columns if ds is not None and len(ds.columns) == DRAWN_DIMENSIONS else engine.unnamed_columns(2)
        self.set_dataset(engine.Dataset(np.vstack([old, new]), columns, (0, 1), source), keep_range=True, by_hand=True)

    def clear_points(self) -> None:
        import engine

        empty = engine.Dataset(np.empty((0, 2)), engine.unnamed_columns(2), (0, 1), "drawn by hand")
        self.set_dataset(empty, keep_range=True, by_hand=True)
        self.controls.draw_button.setChecked(True)  # an empty canvas: drawing is what comes next

    def generate_dialog(self) -> None:
        """The Generate dialog, with the values last generated from in this session (first: the forum preset, N
        1000, seed 0); Cancel leaves them as they were."""
        last = self._last_generated
        dialog = GenerateDialog(self.parent) if last is None else GenerateDialog(self.parent, *last)
        dialog.accepted.connect(lambda: self._generate_from(dialog))
        dialog.open()
        self.messages.keep(dialog)

    def _generate_from(self, dialog: GenerateDialog) -> None:
        """The dialog's OK: its values are remembered as typed (weights unnormalised), then sampled from."""
        n, seed = dialog.n.value(), dialog.seed.value()
        self._last_generated = (n, seed, dialog.parsed())
        self.generate(*dialog.mixture(), n, seed)

    def generate(self, weights, means, covariances, n: int, seed: int) -> None:
        """Sample n points from the mixture (in the background: a million points take longer than the event loop
        may wait, see docs/performance.md, 'The window'); any dimension."""
        import engine

        d = np.asarray(means).shape[1]
        source = (
            f"generated: K={len(weights)}, D={d}, N={n:,}, seed {seed}"
            if d != 2
            else f"generated: K={len(weights)}, N={n:,}, seed {seed}"
        )
        mixture = {"weights": weights, "means": means, "covariances": covariances}
        names = engine.unnamed_columns(d)

        def work():
            points, _ = engine.sample_mixture(weights, means, covariances, n, seed)
            dataset = engine.Dataset(points, names, tuple(range(d)), source)
            return dataset, engine.generated_ref(mixture, n, seed, points)

        self.tasks.run(work, lambda result: self.set_dataset(*result), self.messages.failed("Could not generate"))

    def open_dialog(self) -> None:
        """Open data: the dialog starts in the last folder data came from, else the working directory."""
        self.messages.ask_path(self.open_path, "Open data", DATA_FILTER, self.last_folder(), save=False)

    def last_folder(self) -> str:
        folder = self.settings.value("last_folder")
        return str(folder) if folder and Path(str(folder)).is_dir() else str(Path.cwd())

    def open_path(
        self,
        path: str,
        columns: list | None = None,
        ask_columns: bool = True,
        plot_columns=(0, 1),
        by_chunks: bool = False,
        on_shown=None,
        weights: int | None = None,
        missing: bool = False,
    ) -> None:
        """Load a data file in the background, any number of columns; a file with more than two asks which to
        fit and which two to show (unless columns are given, or ask_columns is False: then the loader's own
        choice is taken: every numeric column but a row index and a class label). A file bigger than the Run
        panel's memory limit (or any, with by_chunks) is not loaded: it is read by chunks (gui.scene.big_data), two
        passes before it shows. on_shown() is called once the file's data is on screen. weights: the file column
        (its place) of the points' frequency weights, read and checked with the data (data in memory only).
        missing: empty and NA cells read as NaN (missing values, fitted by EM); else a file with one asks first."""
        import engine

        path = str(path)
        try:
            limit = self.controls.limit_bytes()
        except engine.UserError as exc:
            self.messages.error("Check the settings", str(exc))
            return
        seed = self.controls.seed.value()
        self._opening += 1
        opening = self._opening
        self.messages.note(f"loading {path}…", 0)

        def work(emit):
            from engine import Cancelled, chunked_source, open_source

            from ..scene.big_data import streamed_scene, survey_file

            source = open_source(path, columns) if by_chunks else chunked_source(path, columns, limit)
            if weights is not None:
                return load_weighted_in_memory(path, columns, weights, source is not None, missing)
            if source is None:
                return load_in_memory(path, columns, missing, ask_columns)
            if columns is None and ask_columns and len(source.names) > 2:
                return "pick", (list(source.names), tuple(source.idx), None, None, None)
            try:
                superseded = lambda: opening != self._opening  # noqa: E731 - another file (or this again) opens
                streamed = survey_file(source, path, columns, limit, seed, emit, superseded)
                view = first_view(streamed.sample_dataset(), plot_columns)
                return "stream", (streamed, streamed_scene(streamed, view, emit, superseded))
            except Cancelled:
                return "superseded", None

        done = functools.partial(self._opened, path, opening, ask_columns, plot_columns, on_shown, missing, weights)
        progress = lambda text: self.messages.note(text, 0)  # noqa: E731 - the passes over a file read by chunks
        failed = lambda message, internal: self.messages.error("Could not open the data", window_words(message))  # noqa: E731
        self.tasks.run(work, done, failed, on_item=progress)

    def _opened(
        self,
        path: str,
        opening: int,
        ask_columns: bool,
        plot_columns,
        on_shown,
        missing: bool,
        weights: int | None,
        result,
    ) -> None:
        """open_path's file read: shown (data in memory or read by chunks), or its columns asked for, or whether to
        fit its missing cells (asked again with the same weights' column); nothing if another file was opened
        meanwhile."""
        import engine

        kind, found = result
        if opening != self._opening or kind == "superseded":
            return  # another file was opened meanwhile
        if kind == "missing":
            self._ask_missing(path, *found, ask_columns, plot_columns, on_shown, weights)
            return
        self._remember(path)
        if kind == "stream":
            self._show_streamed(*found)
            if on_shown is not None:
                on_shown()
            return
        names, default, dataset, ref, weights = found
        if names is not None and len(names) > 2 and ask_columns:
            self._pick_columns(path, names, default, dataset, ref, missing)
        else:
            self.set_dataset(dataset, ref, plot_columns=plot_columns, weights=weights)
            columns = engine.counted(len(dataset.columns), "column")
            weighed = "" if weights is None else f", {weights.describe()}"
            self.messages.note(f"loaded {path}: {columns} ({', '.join(dataset.columns)}){weighed}", 8000)

    def _show_streamed(self, streamed, scene) -> None:
        """Data read by chunks on screen: its sample as the data set, its scene with the image of all points."""

        self._replace_data(streamed.sample_dataset(), None, streamed)
        self.state.set_scene(scene)
        self.messages.note(f"{streamed.path}: {streamed.describe()}", 15000)

    def _ask_missing(
        self,
        path: str,
        problem: str,
        columns,
        cells: int,
        rows: int,
        ask_columns: bool,
        plot_columns,
        on_shown,
        weights: int | None = None,
    ) -> None:
        """A file with missing cells (cells in rows) in the columns to fit (chosen in the column picker first, when
        it has more than two): the one-line question. Fit them by EM: the file is read again with NaN cells (and
        the weights' column chosen, if any); cancelled: the data on screen stays, said as the column picker's cancel
        says it, then problem (the loader's line: where the first missing cell is)."""
        box = dialogs.ask_missing(self.parent, path, cells, rows)
        self.missing_question = box
        self.messages.keep(box)
        reopen = functools.partial(
            self.open_path, path, columns, ask_columns, plot_columns, on_shown=on_shown, weights=weights
        )

        def answered() -> None:
            if box.clickedButton() is box.fit_button:
                reopen(missing=True)
            else:
                # the picker's cancel in the same words first (a long line is cut at the status bar's end)
                again = f"{problem}, or open it again and choose {dialogs.FIT_MISSING!r}"
                self.messages.note(f"opening {path} was cancelled: the data on screen stays. {again}", 15000)

        box.finished.connect(answered)

    def _pick_columns(
        self, path: str, names: list[str], default: tuple[int, ...], dataset, ref, missing: bool = False
    ) -> None:
        """The column picker; dataset and ref: the file as loaded with the default columns (None: not loaded,
        it is read by chunks once the columns are chosen); missing: it was read with its missing values (NaN)."""
        import engine

        picker = dialogs.ColumnPicker(self.parent, path, names, default)
        self.column_picker = picker
        self.messages.note(f"{path}: choose the columns to fit and the two to show", 0)

        def chosen() -> None:
            fit, show, weights = picker.columns(), picker.shown(), picker.weights()
            at = (fit.index(show[0]), fit.index(show[1])) if len(fit) > 1 else (0, 1)  # places among the fitted
            if dataset is not None and fit == default and weights is None:
                self.set_dataset(dataset, ref, plot_columns=at)
                self.messages.note(f"loaded {path}: fitting {engine.counted(len(fit), 'column')}", 5000)
            else:  # (a bad weight is one line, and the data on screen stays)
                self.open_path(path, list(fit), plot_columns=at, weights=weights, missing=missing)

        def cancelled() -> None:
            self.messages.note(f"opening {path} was cancelled: the data on screen stays", 5000)

        picker.accepted.connect(chosen)
        picker.rejected.connect(cancelled)
        picker.open()

    # ---------------------------------------------------------------- recent files
    def recent_files(self) -> list[str]:
        value = self.settings.value("recent", [])
        return [value] if isinstance(value, str) else list(value or [])

    def attach_recent_menu(self, menu: QMenu) -> None:
        self.recent_menu = menu
        self._rebuild_recent()

    def _remember(self, path: str) -> None:
        path = str(Path(path).resolve())
        recent = [path] + [p for p in self.recent_files() if p != path]
        self.settings.setValue("recent", recent[:MAX_RECENT])
        self.settings.setValue("last_folder", str(Path(path).parent))
        self._rebuild_recent()

    def _rebuild_recent(self) -> None:
        if self.recent_menu is None:
            return
        self.recent_menu.clear()
        for path in self.recent_files():
            self.recent_menu.addAction(path, lambda p=path: self.open_path(p))
        self.recent_menu.setEnabled(bool(self.recent_files()))
