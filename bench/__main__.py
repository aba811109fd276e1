"""`make bench`: every benchmark in turn, each printing its medians, ratios and the machine."""

from __future__ import annotations

import importlib
import sys


def main() -> None:
    from bench import signing

    signing.main(["--signers", "300"])
    try:
        export = importlib.import_module("bench.export")
    except ModuleNotFoundError:
        print("bench: export benchmark not available", file=sys.stderr)
        return
    export.main(["--statements", "100000"])


if __name__ == "__main__":
    main()
