"""The Generate dialog (the engine's validation shown inline), the About box, the screenshot command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QDialogButtonBox, QTableWidgetItem

import engine
from gui.views.generate_dialog import GenerateDialog

ROOT = Path(__file__).resolve().parents[2]


def test_generate_dialog_starts_on_the_forum_preset(qtbot) -> None:
    dialog = GenerateDialog()
    qtbot.addWidget(dialog)
    w, m, c = dialog.mixture()
    p = engine.FORUM_PRESET
    np.testing.assert_allclose(w, p["weights"], rtol=1e-6)
    np.testing.assert_allclose(m, p["means"])
    np.testing.assert_allclose(c, p["covariances"])
    assert dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()


def test_an_asymmetric_covariance_is_refused_inline(qtbot) -> None:
    dialog = GenerateDialog()
    qtbot.addWidget(dialog)
    dialog.table.setItem(1, 5, QTableWidgetItem("-2"))  # the forum recipe's [[3, -0.3], [-2, 9]]
    text = dialog.message.text()
    assert "component 1" in text and "not symmetric" in text and "[0][1] = -0.3" in text and "[1][0] = -2" in text
    assert not dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()
    dialog.table.setItem(1, 5, QTableWidgetItem("-0.3"))
    assert dialog.message.text() == ""
    assert dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()


def test_a_cell_that_is_not_a_number_is_named(qtbot) -> None:
    dialog = GenerateDialog()
    qtbot.addWidget(dialog)
    dialog.table.setItem(2, 1, QTableWidgetItem("abc"))
    assert "component 2, mean x: 'abc' is not a number" in dialog.message.text()


def test_generate_replaces_the_data(qtbot, window) -> None:
    p = engine.FORUM_PRESET
    window.data.generate(p["weights"], p["means"], p["covariances"], 2500, 7)
    qtbot.waitUntil(lambda: window.state.scene is not None and len(window.state.scene.points) == 2500, timeout=30_000)
    expected, _ = engine.sample_mixture(p["weights"], p["means"], p["covariances"], 2500, 7)
    np.testing.assert_array_equal(window.state.scene.points, expected)


def test_about_names_the_versions(window) -> None:
    import pyqtgraph
    import torch
    from PySide6.QtCore import qVersion

    from gui.views import dialogs

    box = dialogs.show_about(window, window.run_control.engine_info)
    text = box.text()
    for expected in (
        f"torch: {torch.__version__}",
        f"Qt: {qVersion()}",
        f"pyqtgraph: {pyqtgraph.__version__}",
        f"Python: {sys.version.split()[0]}",
        "pyro: 1.",
    ):
        assert expected in text
    box.close()


def test_screenshot_command_saves_the_fitted_window(tmp_path) -> None:
    out = tmp_path / "shot.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", GMM_STUDIO_NO_BOOTSTRAP="1")
    result = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "screenshot", str(out), "-k", "2", "--fit", "--size", "900x640"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    image = QImage(str(out))
    assert (image.width(), image.height()) == (900, 640)


def test_screenshot_of_a_bad_file_fails_with_the_message(tmp_path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n3\n")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", GMM_STUDIO_NO_BOOTSTRAP="1")
    result = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "screenshot", str(tmp_path / "s.png"), "--data", str(bad)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2
    assert "bad.csv: line 3 has 1 fields" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "s.png").exists()


def test_no_display_is_said_plainly(monkeypatch) -> None:
    import gui.app

    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    assert "there is no display" in gui.app.missing_system_library()
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert gui.app.missing_system_library() == ""
