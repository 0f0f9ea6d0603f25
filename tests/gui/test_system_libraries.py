"""Qt's xcb plugin needs system libraries: every missing one is named at once, with the packages to install."""

from __future__ import annotations

import subprocess
import sys

from gui import system_libraries as sl

LDD_OUTPUT = """\
\tlinux-vdso.so.1 (0x00007ffd)
\tlibQt6XcbQpa.so.6 => /x/libQt6XcbQpa.so.6 (0x00007f)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxcb-cursor.so.0 => not found
\tlibxcb.so.1 => /lib/x86_64-linux-gnu/libxcb.so.1 (0x00007f)
"""


def test_every_missing_library_is_named_with_its_package(monkeypatch, tmp_path) -> None:
    plugin, qpa = tmp_path / "libqxcb.so", tmp_path / "libQt6XcbQpa.so.6"
    plugin.touch()
    qpa.touch()
    monkeypatch.setattr(sl.shutil, "which", lambda name: "/usr/bin/ldd")
    monkeypatch.setattr(sl.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 0, LDD_OUTPUT, ""))
    missing = sl.missing_libraries([plugin, qpa])
    assert missing == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxcb-cursor.so.0"]  # once each
    message = sl.missing_message(missing)
    assert "sudo apt install libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0)" in message
    assert message.count("libxcb-keysyms.so.1") == 1


def test_without_ldd_each_known_library_is_looked_up(monkeypatch) -> None:
    monkeypatch.setattr(sl.shutil, "which", lambda name: None)
    monkeypatch.setattr(sl.ctypes.util, "find_library", lambda name: None if name in ("xcb-icccm", "EGL") else name)
    assert sl.missing_libraries([]) == ["libxcb-icccm.so.4", "libEGL.so.1"]
    assert sl.package_for("libXtst.so.6") == "libxtst6" and sl.package_for("libfoo-2.so.3") == "libfoo-2-3"


def test_the_real_plugin_is_found_and_checked() -> None:
    files = sl.xcb_plugin_files()
    assert files and files[0].name == "libqxcb.so"
    missing = sl.missing_libraries(files)  # whatever this machine lacks; each a library name
    assert all(".so" in name for name in missing)


def test_the_window_refuses_to_start_with_the_message(monkeypatch) -> None:
    import gui.app

    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("DISPLAY", ":99")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setattr(sl, "missing_libraries", lambda: ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"])
    text = gui.app.missing_system_library()
    assert "libxcb-icccm.so.4, libxcb-keysyms.so.1" in text and "apt install libxcb-icccm4 libxcb-keysyms1" in text
