"""Make docs/uncertainty.png: Old Faithful (its two columns), K = 3 tied, fitted, then Fit > Uncertainty with B = 200
nonparametric replicates; the 2-sigma ellipses only (no 1- and 3-sigma rings, contours or paths), so that each band
reads around its ellipse.

    xvfb-run -a -s "-screen 0 1600x1000x24" python3 docs/make_uncertainty_png.py [OUT.png]

(offscreen Qt draws it too, with QT_QPA_PLATFORM=offscreen). The window is saved by QWidget.grab, at 1400 x 880, PNG
at the highest compression (about 170 KB).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def wait(app, done, seconds: float = 600.0) -> None:
    """Run the event loop until done() (SystemExit after `seconds`)."""
    end = time.monotonic() + seconds
    while not done():
        app.processEvents()
        time.sleep(0.01)
        if time.monotonic() > end:
            raise SystemExit("the window did not finish in time")


def main(out: str) -> None:
    import tempfile

    from PySide6.QtCore import QSettings

    import engine
    from gui.app import make_app
    from gui.main_window import MainWindow

    app = make_app()
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings)  # fresh settings: the defaults, not this machine's
    window.resize(1400, 880)
    window.show()
    wait(app, lambda: window.run_control.ready)
    os.chdir(ROOT)  # the data label shows the path as given: relative, as a user types it
    window.data.set_dataset(engine.load("tests/data/old_faithful.csv", [1, 2]))
    c = window.controls
    c.k.setValue(3)
    c.covariance.setCurrentText("tied")
    c.tol.setText("1e-8")
    ended: list[str] = []
    window.run_control.fit_ended.connect(ended.append)
    window.run_control.start_fit()
    wait(app, lambda: bool(ended))
    window.uncertainty.start(200, "nonparametric")
    wait(app, lambda: window.uncertainty.result is not None)
    m = window.menus
    for action in (m.sigma_actions[1.0], m.sigma_actions[3.0], m.contours_action, m.paths_action):
        action.setChecked(False)
    for _ in range(50):  # let every pending paint land
        app.processEvents()
        time.sleep(0.02)
    window.grab().toImage().save(out, "PNG", 0)
    window.close()


if __name__ == "__main__":
    main(str(Path(sys.argv[1]).resolve()) if len(sys.argv) > 1 else str(ROOT / "docs" / "uncertainty.png"))
