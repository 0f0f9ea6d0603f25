"""Data bigger than one process: fits on a Dask cluster, and counting every point of big data over a view."""
