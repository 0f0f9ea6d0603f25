"""The command line: a front end beside the window (gui/), over the engine's facade and packages."""
