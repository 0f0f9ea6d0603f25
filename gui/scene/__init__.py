"""What the window shows, computed without Qt: frames of a fit in a view, display units, data read by chunks,
the fit job that turns snapshots into frames, SVG text."""
