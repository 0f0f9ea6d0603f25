"""Malformed text files and the message each must produce: file name -> (content, message)."""

BAD_TEXT = {
    "empty.csv": (b"", "the file is empty"),
    "blank.csv": (b"\n\n  \n", "the file is empty"),
    "header_only.csv": (b'"a","b"\n', "has a header (a, b) but no data rows"),
    "text_in_numeric.csv": (b"a,b\n1,2\n3,x7\n", "line 3, column 1 ('b'): value 'x7' is not a number"),
    "nan.csv": (b"a,b\n1,2\nnan,3\n", "line 3, column 0 ('a'): value 'nan' is not a finite number"),
    "inf.csv": (b"a,b\n1,2\n3,inf\n", "line 3, column 1 ('b'): value 'inf' is not a finite number"),
    "one_column.csv": (b"a\n1\n2\n", "has only one column ('a')"),
    "ragged.csv": (b"a,b\n1,2\n3,4,5\n", "line 3 has 3 fields but the header has 2"),
    "binary.csv": (bytes(range(256)) * 4, "looks like a binary file"),
}
