"""--fix: the parameters a fit keeps at the --init file's values (engine/fixed.py), read from the command line."""

from __future__ import annotations

import sys

from engine.errors import UserError
from engine.fixed import KINDS, FixedParams

NEEDS_INIT = "--fix pins values of the start: give the start as a parameters file, --init params.json"
NOT_IN_SELECT = (
    "select does not take --fix: each cell of its grid starts from its own starts; pin parameters in one fit, "
    "fit DATA --init params.json --fix means=0,2"
)


def parse_fixed(items: list[str] | None, k: int | None) -> FixedParams | None:
    """FixedParams from --fix items ('means=0,2', 'weights', ...; no components: every one), for an init file of k
    components (None: no init file, refused); None without --fix. Every weight but one pinned pins that one too,
    said on stderr."""
    if not items:
        return None
    if k is None:
        raise UserError(NEEDS_INIT)
    pinned: dict[str, set[int]] = {kind: set() for kind in KINDS}
    for item in items:
        kind, equals, comps = item.partition("=")
        if kind not in KINDS:
            raise UserError(f"--fix {item}: pin one of {', '.join(KINDS)}, as --fix means=0,2 (no components: all)")
        if equals and not comps:  # 'means=' is a list left out, not 'every component' (which is --fix means)
            raise UserError(
                f"--fix {item}: no component after '=': list them, as --fix {kind}=0,2, or pin every one with "
                f"--fix {kind}"
            )
        pinned[kind] |= _components(item, comps, k)
    fixed = FixedParams(**{kind: tuple(sorted(c)) for kind, c in pinned.items()})
    completed = fixed.completed(k)
    if completed != fixed:
        last = (set(completed.weights) - set(fixed.weights)).pop()
        print(
            f"--fix weights: every weight but component {last}'s is pinned, so its weight is pinned too (the weights "
            "sum to 1)",
            file=sys.stderr,
        )
    return completed


def _components(item: str, text: str, k: int) -> set[int]:
    """The component numbers of one --fix item: 'a,b,...' or every one of the k when none is given."""
    if not text:
        return set(range(k))
    try:
        comps = {int(c) for c in text.split(",")}
    except ValueError:
        raise UserError(f"--fix {item}: components are numbers separated by commas, as in --fix means=0,2") from None
    bad = sorted(c for c in comps if not 0 <= c < k)
    if bad:
        raise UserError(f"--fix {item}: component {bad[0]} is out of range: the init file has components 0 to {k - 1}")
    return comps
