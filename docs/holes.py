"""A CSV table with some of its cells written as NA: data missing completely at random, for `fit --missing em`
(docs/command-line.md, "Missing values").

    python3 docs/holes.py IN.csv OUT.csv SHARE [COLUMN ...]

Each cell of the kept columns (0-based places; default: all) becomes NA with probability SHARE (a seeded draw, the
same every run), except that every row keeps at least one value. The other values are copied as text.
"""

from __future__ import annotations

import csv
import random
import sys


def main(argv: list[str]) -> int:
    source, target, share, *chosen = argv
    with open(source, newline="") as f:
        rows = [[field.strip() for field in row] for row in csv.reader(f) if row]
    keep = [int(c) for c in chosen] or list(range(len(rows[0])))
    draw = random.Random(0)
    out, holes = [], 0
    for row in rows[1:]:
        cells = [row[j] for j in keep]
        gone = [draw.random() < float(share) for _ in cells]
        if all(gone):  # a row with nothing observed tells nothing: keep one value
            gone[draw.randrange(len(cells))] = False
        holes += sum(gone)
        out.append(["NA" if g else c for c, g in zip(cells, gone, strict=True)])
    with open(target, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([rows[0][j] for j in keep])
        writer.writerows(out)
    print(f"{len(out)} rows of {source}: {holes} of {len(out) * len(keep)} cells written as NA to {target}")
    return 0


def run(argv: list[str]) -> int:
    """main, with a mistake said in one line (exit 2), never a traceback."""
    try:
        if len(argv) < 3:
            raise ValueError("too few arguments")
        return main(argv)
    except (OSError, ValueError, IndexError) as exc:
        print(f"error: {exc}: usage: python3 docs/holes.py IN.csv OUT.csv SHARE [COLUMN ...]", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
