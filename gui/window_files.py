"""The window's file actions: export parameters, labels, the plot; import parameters; sessions. A mixin
of MainWindow (it uses the window's widgets and state); kept apart so that each file holds one concern."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from PySide6.QtWidgets import QFileDialog


class FileActions:
    """Exports, imports and sessions (mixed into MainWindow)."""

    def current_params(self):
        """The shown snapshot's parameters with the export metadata, and a note when the fit still runs."""
        import engine

        if self.frame is None:
            raise engine.UserError("there is no fit to export yet: press Run (F5) first")
        snap = self.frame.snapshot
        params = engine.params_from_snapshot(
            snap, tuple(self.dataset.columns), engine.points_sha256(self.dataset.points)
        )
        note = (
            f" (the current snapshot: iteration {snap.iteration}, the fit is still running)" if self.job_active else ""
        )
        return params, note

    def export_params(self, path: str) -> None:
        import engine

        try:
            params, note = self.current_params()
            engine.write_params(path, params)
        except engine.UserError as exc:
            self._error("Could not export the parameters", str(exc))
            return
        self.statusBar().showMessage(f"exported the parameters to {path}{note}", 8000)

    def export_labels(self, path: str, on_done=None) -> None:
        """Labels and responsibilities of every point (CSV), written in the background."""
        import engine

        try:
            params, note = self.current_params()
        except engine.UserError as exc:
            self._error("Could not export the labels", str(exc))
            return
        points = self.dataset.points

        def done(_result) -> None:
            self.statusBar().showMessage(f"exported labels and responsibilities to {path}{note}", 8000)
            if on_done is not None:
                on_done()

        self.tasks.run(
            lambda: engine.write_labels(path, points, params),
            done,
            lambda msg, internal: self._error("Could not export the labels", msg),
        )

    def export_plot(self, path: str) -> None:
        """The plot as PNG or SVG, via a temporary file and a rename (never half-written), with the
        permissions any new file gets (0644 under the usual umask)."""
        import pyqtgraph.exporters as exporters

        import engine

        suffix = Path(path).suffix.lower()
        if suffix not in (".png", ".svg"):
            self._error("Could not export the plot", f"{path}: use a .png or .svg file name")
            return
        folder = Path(path).parent
        if not folder.is_dir():
            self._error("Could not export the plot", f"{path}: the folder {folder} does not exist")
            return
        fd, tmp = tempfile.mkstemp(prefix=f".{Path(path).name}.", suffix=suffix, dir=folder)
        os.close(fd)
        try:
            if suffix == ".png":
                exporter = exporters.ImageExporter(self.plot.plotItem)
                exporter.parameters()["width"] = max(1200, int(self.plot.width() * 2))
                exporter.export(tmp)
                data = Path(tmp).read_bytes()
            else:
                data = self.plot.svg_text().encode("utf-8")
            engine.atomic_write(path, data)
        except Exception as exc:  # noqa: BLE001 - a failed export is reported; nothing half-written remains
            self._error("Could not export the plot", f"{path}: {exc}")
            return
        finally:
            Path(tmp).unlink(missing_ok=True)
        self.statusBar().showMessage(f"exported the plot to {path}", 8000)

    def import_params(self, path: str) -> bool:
        """Use a parameters file (JSON/CSV/NPZ) as the initialisation, and show it (iteration 0)."""
        import engine

        try:
            params = engine.read_params(path)
            if params.means.shape[1] != 2:
                raise engine.ParamsError(
                    f"{path}: the parameters are {params.means.shape[1]}-D; the window fits 2-D data"
                )
        except engine.UserError as exc:
            self._error("Could not import the parameters", str(exc))
            return False
        self.controls.set_imported(params.as_init(), str(path))
        self.statusBar().showMessage(f"initialisation: {len(params.weights)} components from {path}", 8000)
        self.reset()
        return True

    # ---------------------------------------------------------------- sessions
    def data_ref(self):
        """How the shown data can be found again: its file, its generator recipe, or the points themselves."""
        import engine

        kind = self.data_origin[0]
        if kind == "file":
            return engine.file_ref(self.dataset)
        if kind == "generated":
            _, mixture, n, seed = self.data_origin
            return engine.generated_ref(mixture, n, seed, self.dataset.points)
        return engine.inline_ref(self.dataset.points)

    def save_session(self, path: str) -> bool:
        """Data reference and hash, settings, the current fit and its history, in one file."""
        import engine

        source = self.latest if self.latest is not None else self.frame
        if source is None:
            self._error("Could not save the session", "there is no fit to save yet: press Run (F5) first")
            return False
        # the fit's own result (what re-running its settings reproduces), whatever iteration or restart is on
        # screen; its config is the resolved one the engine ran
        snap = source.snapshot
        history = engine.History.of_entries(source.entries) if source.entries else None
        try:
            engine.write_session(path, self.data_ref(), snap.config, snap, history, source.history)
        except engine.UserError as exc:
            self._error("Could not save the session", str(exc))
            return False
        self.statusBar().showMessage(f"saved the session to {path}", 8000)
        return True

    def open_session(self, path: str) -> None:
        """Load the session's data (checked against its hash), its settings, and run its fit again: the
        status bar says whether the result is the saved one."""
        import engine

        try:
            session = engine.read_session(path)
        except engine.UserError as exc:
            self._error("Could not open the session", str(exc))
            return
        self.statusBar().showMessage(f"opening {path}: loading its data…")

        def done(points) -> None:
            ref = session.data
            if ref.kind == "file":
                columns = tuple(engine.column_names(ref.path)[j] for j in ref.columns) if ref.columns else ("x", "y")
                dataset = engine.Dataset(points, columns, tuple(ref.columns) or (0, 1), ref.path)
                origin = ("file",)
            elif ref.kind == "generated":
                dataset = engine.Dataset(
                    points,
                    ("x", "y"),
                    (0, 1),
                    f"generated: K={len(ref.mixture['weights'])}, N={ref.n:,}, seed {ref.seed}",
                )
                origin = ("generated", ref.mixture, ref.n, ref.seed)
            else:
                dataset = engine.Dataset(points, ("x", "y"), (0, 1), f"from the session {Path(path).name}")
                origin = ("inline",)
            self.set_dataset(dataset, origin)
            self.controls.apply_config(session.config)
            self._session_check = session.fit
            self.start_fit()

        self.tasks.run(session.data.load, done, lambda msg, internal: self._error("Could not open the session", msg))

    def _check_session(self, status: str) -> None:
        saved, self._session_check = self._session_check, None
        if saved is None or self.frame is None:
            return
        snap = self.frame.snapshot
        same = snap.mean_log_likelihood == saved["mean_log_likelihood"] and snap.iteration == saved["iteration"]
        verdict = "reproduced the saved fit" if same else "did NOT reproduce the saved fit"
        self.session_verdict = (
            f"session: {verdict}: log-likelihood {snap.log_likelihood:.6f} after "
            f"{snap.iteration} iterations (saved {saved['log_likelihood']:.6f} after "
            f"{saved['iteration']})"
        )
        self.statusBar().showMessage(self.session_verdict, 20000)

    def ask_path(self, action, title: str, filters: str, default: str = "", save: bool = True) -> None:
        """A save (or open) file dialog; unless it is cancelled, action(path)."""
        ask = QFileDialog.getSaveFileName if save else QFileDialog.getOpenFileName
        path, _ = ask(self, title, default, filters)
        if path:
            action(path)

    def save_session_dialog(self) -> None:
        self.ask_path(self.save_session, "Save session", "Sessions (*.gmmsession)", "fit.gmmsession")

    def open_session_dialog(self) -> None:
        self.ask_path(self.open_session, "Open session", "Sessions (*.gmmsession)", save=False)

    def export_params_dialog(self) -> None:
        self.ask_path(
            self.export_params, "Export parameters", "JSON (*.json);;CSV (*.csv);;NumPy (*.npz)", "params.json"
        )

    def export_labels_dialog(self) -> None:
        self.ask_path(self.export_labels, "Export labels", "CSV (*.csv)", "labels.csv")

    def export_plot_dialog(self) -> None:
        self.ask_path(self.export_plot, "Export plot", "PNG (*.png);;SVG (*.svg)", "plot.png")

    def import_params_dialog(self) -> None:
        self.ask_path(
            self.import_params, "Import parameters", "Parameters (*.json *.csv *.npz);;All files (*)", save=False
        )
