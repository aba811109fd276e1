"""`make bench`: every benchmark in turn, each printing its medians, ratios and the machine."""

from __future__ import annotations

from bench import export, load, signing
from tests.support import postgres


def main() -> None:
    signing.main(["--signers", "300"])
    # a million statements on SQLite, and on PostgreSQL in a throwaway cluster of its own when it is installed
    export.main(["--statements", "1000000"])
    if not postgres.available():
        print("bench: PostgreSQL 15 is not installed (make system-deps): skipping the load benchmark")
        return
    load.main(["--signings", "3000"])


if __name__ == "__main__":
    main()
