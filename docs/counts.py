"""A CSV table's repeated rows collapsed into one row each, with a `count` column: the same data as frequency weights
(docs/command-line.md, "Weights").

    python3 docs/counts.py IN.csv OUT.csv [COLUMN ...]

COLUMN: 0-based places of the columns kept (default: all). The values are copied as text, so the counted rows hold
the very numbers of the table.
"""

from __future__ import annotations

import csv
import sys
from collections import Counter


def main(argv: list[str]) -> int:
    source, target, *chosen = argv
    with open(source, newline="") as f:
        rows = [[field.strip() for field in row] for row in csv.reader(f) if row]
    keep = [int(c) for c in chosen] or list(range(len(rows[0])))
    counts = Counter(tuple(row[j] for j in keep) for row in rows[1:])
    with open(target, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow([rows[0][j] for j in keep] + ["count"])
        out.writerows([*row, n] for row, n in counts.items())
    print(f"{len(rows) - 1} rows of {source}: {len(counts)} distinct, written with their counts to {target}")
    return 0


def run(argv: list[str]) -> int:
    """main, with a mistake said in one line (exit 2), never a traceback."""
    try:
        if len(argv) < 2:
            raise ValueError("too few arguments")
        return main(argv)
    except (OSError, ValueError, IndexError) as exc:
        print(f"error: {exc}: usage: python3 docs/counts.py IN.csv OUT.csv [COLUMN ...]", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
