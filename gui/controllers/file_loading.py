"""Reading a file the window opens, off the GUI thread and without Qt: in memory, with its weights' column, and
whether its columns miss cells (the window asks before fitting them by EM); the loader's words in the window's."""

from __future__ import annotations

from ..scene.weights import Weights


def load_in_memory(path: str, columns: list | None, missing: bool, ask_columns: bool = False) -> tuple:
    """open_path's file read in memory: ("memory", (its column names (None: columns given), its fitted columns,
    the engine.Dataset, its engine.DataRef, no weights)), or ("missing", (the loader's line, columns, cells, rows))
    when it has a missing cell and missing is False (the window asks whether to fit them by EM). A file of more
    than two columns with a missing cell, its columns to be asked (ask_columns): ("memory", (its names, its default
    columns, no data set...)): the column picker comes first, the question only if the chosen columns miss a cell."""
    import engine

    names = None if columns is not None else engine.column_names(path)
    try:
        dataset = engine.load(path, columns, missing=missing)
    except engine.UserError as exc:
        counts = None if missing else missing_counts(path, columns)
        if counts is None:
            raise
        if ask_columns and names is not None and len(names) > 2:  # the loader's default columns, with NaN cells
            return "memory", (names, tuple(engine.load(path, None, missing=True).column_indices), None, None, None)
        return "missing", (str(exc).replace(engine.MISSING_HINT, ""), columns, *counts)
    return "memory", (names, tuple(dataset.column_indices), dataset, engine.file_ref(dataset), None)


def missing_counts(path: str, columns: list | None) -> tuple[int, int] | None:
    """(cells, rows) missing in a file that was refused without missing values, None when it has none (or is refused
    with them too). Asked of the file itself: the loader's refusal does not always name a missing value (a row
    missing two cells can read as a broken table)."""
    import engine

    from ..scene.missing import missing_cells

    try:
        cells, rows = missing_cells(engine.load(path, columns, missing=True).points)
    except engine.NoObservedValue:
        raise  # a row with nothing observed: fitting by EM cannot take it either, its line says what to do
    except engine.UserError:
        return None
    return (cells, rows) if cells else None


def window_words(message: str) -> str:
    """A loader's line in the window's words: its advice to fit missing values with `--missing em` (a command-line
    flag) becomes the window's way (a file read in memory asks whether to fit them by EM)."""
    import engine

    window = ", or raise the memory limit (Run panel) and open it again: the window fits missing values in memory"
    return message.replace(engine.MISSING_HINT, window)


def load_weighted_in_memory(path: str, columns: list | None, weights: int, too_big: bool, missing: bool) -> tuple:
    """open_path's file with a weights' column, as load_in_memory: ("memory", load_with_weights's tuple), or
    ("missing", (the loader's line, columns, cells, rows)) when its fitted columns miss a cell and missing is False
    (the window asks whether to fit them by EM, as it does without weights)."""
    import engine

    try:
        return "memory", load_with_weights(path, columns, weights, too_big, missing)
    except engine.UserError as exc:
        counts = None if missing or too_big else missing_counts(path, columns)
        if counts is None:
            raise
        return "missing", (str(exc).replace(engine.MISSING_HINT, ""), columns, *counts)


def load_with_weights(path: str, columns: list | None, weights: int, too_big: bool, missing: bool = False) -> tuple:
    """open_path's file in memory with its column `weights` as the points' frequency weights: (None, its fitted
    columns, the engine.Dataset, its engine.DataRef, the Weights), checked as `fit --weights` checks them (a bad
    weight is a UserError in one line). too_big: the file is bigger than the memory limit (refused: the window
    fits weights in memory only); missing: the fitted columns' empty and NA cells read as NaN."""
    import engine

    if too_big:
        raise engine.UserError(
            f"{path} is bigger than the memory limit, and the window fits weights on data in memory only: raise "
            f"the memory limit (Run panel), or fit it with `python3 main.py fit {path} --weights {weights}`"
        )
    try:
        dataset, values, column, name = engine.load_weighted(path, columns, f"index:{weights}", missing)
    except engine.UserError as exc:  # the engine's line, its advice in the window's words
        # the same error reworded in place: its class may take more than a message (BadValue: place, column, ...)
        exc.args = (str(exc).replace("another --weights column", "other Weights in the column picker"),)
        raise exc from None
    weighed = Weights(values, column, name)
    return None, tuple(dataset.column_indices), dataset, engine.file_ref(dataset, values, column), weighed
