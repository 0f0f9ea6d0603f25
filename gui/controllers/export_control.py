"""Files out and in: export the parameters, the labels, the plot and the restart gallery; import parameters
as the initialisation."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..background import Background
from ..state import WindowState
from ..views.controls import ControlPanel
from ..views.gallery import GalleryPanel
from ..views.plot_view import PlotView


class ExportControl:
    """Exports of the shown fit, and imports of a start."""

    def __init__(
        self,
        state: WindowState,
        controls: ControlPanel,
        run_control,
        plot: PlotView,
        gallery_panel: GalleryPanel,
        tasks: Background,
        messages,
    ) -> None:
        self.state, self.controls, self.run_control, self.plot = state, controls, run_control, plot
        self.gallery_panel, self.tasks, self.messages = gallery_panel, tasks, messages

    def current_params(self):
        """The shown snapshot's parameters with the export metadata, and a note when the fit still runs."""
        import engine

        if self.state.frame is None:
            raise engine.UserError("there is no fit to export yet: press Run (F5) first")
        snap = self.state.frame.snapshot
        # the data's hash was taken with its reference (off the GUI thread for a file or generated data); data
        # read by chunks has none (hashing it would be one more pass over GBs), as from the command line
        origin = self.state.origin
        digest = origin.sha256 if origin is not None else ""
        weights = self.state.weights  # the data's (a fit on screen is always of the data on screen)
        name = None if weights is None else weights.name
        params = engine.params_from_snapshot(snap, tuple(self.state.dataset.columns), digest, name)
        running = self.state.job_active
        note = f" (the current snapshot: iteration {snap.iteration}, the fit is still running)" if running else ""
        return params, note

    def export_params(self, path: str) -> None:
        import engine

        try:
            params, note = self.current_params()
            engine.write_params(path, params)
        except engine.UserError as exc:
            self.messages.error("Could not export the parameters", str(exc))
            return
        self.messages.note(f"exported the parameters to {path}{note}")

    def export_labels(self, path: str, on_done=None) -> None:
        """Labels and responsibilities of every point (CSV), written in the background (data read by chunks: in
        one more pass, each chunk's labels written as it is read, the file renamed into place at the end). The
        file is CSV: a name without a suffix gets .csv (as a file dialog adds it); another suffix is refused."""
        import engine

        path = labels_path(path)
        try:
            if not path.lower().endswith(".csv"):
                raise engine.UserError(f"{path}: labels are written as CSV: name the file with .csv")
            params, note = self.current_params()
        except engine.UserError as exc:
            self.messages.error("Could not export the labels", str(exc))
            return
        points, stream = self.state.dataset.points, self.state.stream

        def write() -> None:
            if stream is None:
                engine.write_labels(path, points, params)
                return
            from engine import atomic_write, label_csv

            rows = stream.rows(len(params.weights))
            atomic_write(path, label_csv(stream.source().chunks(rows), params))

        def done(_result) -> None:
            self.messages.note(f"exported labels and responsibilities to {path}{note}")
            if on_done is not None:
                on_done()

        if stream is not None:
            self.messages.note(f"writing the labels of {stream.n_samples:,} points to {path} (one pass)…", 0)
        self.tasks.run(write, done, self.messages.failed("Could not export the labels"))

    def export_plot(self, path: str) -> None:
        """The plot as PNG or SVG, via a temporary file and a rename (never half-written), with the
        permissions any new file gets (0644 under the usual umask)."""
        import pyqtgraph.exporters as exporters

        import engine

        suffix = Path(path).suffix.lower()
        if suffix not in (".png", ".svg"):
            self.messages.error("Could not export the plot", f"{path}: use a .png or .svg file name")
            return
        folder = Path(path).parent
        if not folder.is_dir():
            self.messages.error("Could not export the plot", f"{path}: the folder {folder} does not exist")
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
            self.messages.error("Could not export the plot", f"{path}: {exc}")
            return
        finally:
            Path(tmp).unlink(missing_ok=True)
        self.messages.note(f"exported the plot to {path}")

    def export_gallery(self, path: str) -> None:
        import engine

        if self._no_gallery():
            return
        try:
            engine.write_gallery(path, self.gallery_panel.exported())  # with the identifiability, once computed
        except engine.UserError as exc:
            self.messages.error("Could not export the gallery", str(exc))
            return
        self.messages.note(f"exported the gallery to {path}")

    def import_params(self, path: str) -> bool:
        """Use a parameters file (JSON/CSV/NPZ) as the initialisation, and show it (iteration 0)."""
        import engine

        try:
            params = engine.read_params(path)
            scene = self.state.scene
            d = scene.n_features if scene is not None else 2
            if params.means.shape[1] != d:
                raise engine.ParamsError(
                    f"{path}: the parameters are {params.means.shape[1]}-D and the data on screen is {d}-D: "
                    "import parameters fitted to data of the same columns"
                )
        except engine.UserError as exc:
            self.messages.error("Could not import the parameters", str(exc))
            return False
        self.controls.set_imported(params.as_init(), str(path))
        self.messages.note(f"initialisation: {engine.counted(len(params.weights), 'component')} from {path}")
        self.run_control.reset()
        return True

    # ---------------------------------------------------------------- the file dialogs
    def export_params_dialog(self) -> None:
        filters = "JSON (*.json);;CSV (*.csv);;NumPy (*.npz)"
        self.messages.ask_path(self.export_params, "Export parameters", filters, "params.json")

    def export_labels_dialog(self) -> None:
        self.messages.ask_path(self.export_labels, "Export labels", "CSV (*.csv)", "labels.csv")

    def export_plot_dialog(self) -> None:
        self.messages.ask_path(self.export_plot, "Export plot", "PNG (*.png);;SVG (*.svg)", "plot.png")

    def _no_gallery(self) -> bool:
        """True, said in an error, when there is no gallery to export."""
        if self.gallery_panel.gallery is not None:
            return False
        self.messages.error("Could not export the gallery", "there is no gallery yet: run a fit with restarts > 1")
        return True

    def export_gallery_dialog(self) -> None:
        if self._no_gallery():  # said before a file name is asked for, not after
            return
        self.messages.ask_path(self.export_gallery, "Export gallery", "CSV (*.csv);;JSON (*.json)", "gallery.csv")

    def import_params_dialog(self) -> None:
        filters = "Parameters (*.json *.csv *.npz);;All files (*)"
        self.messages.ask_path(self.import_params, "Import parameters", filters, save=False)


def labels_path(path: str) -> str:
    """The labels file's name: .csv added where the name has no suffix (as the CSV filter of a file dialog does)."""
    return path if Path(path).suffix else path + ".csv"
