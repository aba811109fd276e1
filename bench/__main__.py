"""`make bench`: every benchmark in turn, each printing its medians, ratios and the machine."""

from __future__ import annotations

from bench import export, signing
from tests.support import postgres


def main() -> None:
    signing.main(["--signers", "300"])
    if not postgres.available():
        export.main(["--statements", "100000"])
        return
    cluster = postgres.Cluster()  # the export benchmark on PostgreSQL too, in a throwaway cluster
    cluster.init()
    cluster.start()
    try:
        export.main(["--statements", "100000", "--database-url", cluster.create_database("bench_export")])
    finally:
        cluster.destroy()


if __name__ == "__main__":
    main()
