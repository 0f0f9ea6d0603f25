"""The command line's bad input: malformed text files and the message each must produce (file name ->
(content, message)), and the check that a user's mistake exits 2 with one `error:` line and no traceback."""

from __future__ import annotations


def expect_user_error(capsys, argv: list[str], message: str) -> str:
    """The command line on argv exits 2 with exactly one `error:` line, the last on stderr, holding message, and
    no traceback; returns stderr."""
    from cli.main import main as cli

    assert cli(argv) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert "Traceback" not in err
    assert [line for line in err.splitlines() if line.startswith("error:")] == [err.strip().splitlines()[-1]]
    return err


def edited(doc: dict, path: str, value) -> dict:
    """A deep copy of the JSON document doc with the field at the dotted path set to value (KeyError: removed):
    a session or export a user edited by hand."""
    import json

    doc = json.loads(json.dumps(doc))
    *parents, last = path.split(".")
    node = doc
    for key in parents:
        node = node[key]
    if value is KeyError:
        del node[last]
    else:
        node[last] = value
    return doc


BAD_TEXT = {
    "empty.csv": (b"", "the file is empty"),
    "blank.csv": (b"\n\n  \n", "the file is empty"),
    "header_only.csv": (b'"a","b"\n', "has a header (a, b) but no data rows"),
    "text_in_numeric.csv": (b"a,b\n1,2\n3,x7\n", "line 3, column 1 ('b'): value 'x7' is not a number"),
    "nan.csv": (b"a,b\n1,2\nnan,3\n", "line 3, column 0 ('a'): value 'nan' is not a finite number"),
    "inf.csv": (b"a,b\n1,2\n3,inf\n", "line 3, column 1 ('b'): value 'inf' is not a finite number"),
    "one_column_of_words.csv": (b"a\nx\ny\n", "is not a numeric table"),
    "ragged.csv": (b"a,b\n1,2\n3,4,5\n", "line 3 has 3 fields but the header has 2"),
    "binary.csv": (bytes(range(256)) * 4, "looks like a binary file"),
    # prose, a log, a report: not a numeric table, naming the first value that is not a number
    "prose.txt": (
        b"The geyser erupts often.\nIt waits about an hour, sometimes two.\nThen it erupts again.\n",
        "is not a numeric table: line 2, column 0: value 'It' is not a number",
    ),
    "prose_commas.csv": (
        b"Dear reader,\nhere are the numbers, as promised, in a table\n1,2\n",
        "is not a numeric table: line 2, column 0: value 'here are the numbers'",
    ),
    "log.txt": (
        b"INFO start\nINFO loaded 3 files\nWARN slow\n",
        "is not a numeric table: line 2, column 0: value 'INFO'",
    ),
    # what Python's float() takes but a CSV reader must not
    "underscore.csv": (b"a,b\n1,2\n1_000,3\n", "line 3, column 0 ('a'): value '1_000' is not a number"),
    "fullwidth.csv": ("a,b\n1,2\n\uff11\uff12,3\n".encode(), "line 3, column 0 ('a'): value '\uff11\uff12' is not"),
    "hex.csv": (b"a,b\n1,2\n0x1f,3\n", "line 3, column 0 ('a'): value '0x1f' is not a number"),
    # an unbalanced quote names its line (it once swallowed the rest of the file and raised)
    "open_quote.csv": (b'a,b\n1,2\n"3,4\n5,6\n', 'line 3: a quote (") is opened but not closed'),
    "open_quote_header.csv": (b'"a,b\n1,2\n', 'line 1: a quote (") is opened but not closed'),
}
