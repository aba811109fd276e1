"""`make bench`: every figure of issue 10 as one table (bench.table), each measured by the module its row names.

    python -m bench [--quick]        # --quick: one short run of each, for a first look (not for the record)
    python -m bench --only bench.flow,bench.export   # these modules' rows only

bench.flow measures the signing path against a bare Flask app and what a second core adds; bench.staff_pages and
bench.export are called the same way (`figures(quick)`) when they exist, and their rows say "not measured yet"
until then. The older benchmarks run on their own: `python -m bench.signing`, `python -m bench.load`,
`python -m bench.export`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
import traceback

from bench.machine import describe
from bench.table import ROWS, Measured, render


def collect(quick: bool, sources: list[str] | None = None) -> tuple[dict[str, Measured], dict[str, str]]:
    """Run each module's figures() once (the modules the table's rows name); say why a module gave nothing."""
    found: dict[str, Measured] = {}
    missing: dict[str, str] = {}
    for source in sources or list(dict.fromkeys(row.source for row in ROWS)):
        try:
            module = importlib.import_module(source)
        except ModuleNotFoundError as error:
            if error.name != source:
                raise
            missing[source] = f"{source} does not exist yet"
            continue
        measure = getattr(module, "figures", None)
        if measure is None:
            missing[source] = f"{source} has no figures() yet"
            continue
        started = time.monotonic()
        try:
            found.update(measure(quick=quick))
        except Exception as error:  # noqa: BLE001 - one failed benchmark must not hide the others' figures
            traceback.print_exc()
            missing[source] = f"{source} failed: {type(error).__name__}: {error}"[:200]
        print(f"bench: {source} took {time.monotonic() - started:.0f} s", flush=True)
    return found, missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one short run of each: a first look, not the record")
    parser.add_argument("--only", default="", help="these modules only, e.g. bench.flow,bench.export")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    found, missing = collect(args.quick, [s for s in args.only.split(",") if s] or None)
    print()
    quick = " (--quick)" if args.quick else ""
    print(f"Issue 10, measured {time.strftime('%Y-%m-%d %H:%M')} on {describe()}{quick}")
    print(f"load average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f} (the machine is shared: a high "
          "load lowers the absolute figures; the ratios compare apps measured in the same run)")  # fmt: skip
    print(render(found, missing))
    return 1 if any("failed" in why for why in missing.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
