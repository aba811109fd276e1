"""`make bench`: every benchmark in turn, each printing its medians, ratios and the machine."""

from __future__ import annotations

from bench import export, load, markdown, proof_of_work, reach, signing
from tests.support import postgres


def main() -> None:
    signing.main(["--signers", "300"])
    reach.main([])
    markdown.main([])
    proof_of_work.main(["--forms", "20", "--seconds", "60"])
    if not postgres.available():
        print("bench: PostgreSQL 15 is not installed (make system-deps): skipping the load benchmark")
        export.main(["--statements", "100000"])
        return
    cluster = postgres.Cluster()  # the export benchmark on PostgreSQL too, in a throwaway cluster
    cluster.init()
    cluster.start()
    try:
        export.main(["--statements", "100000", "--database-url", cluster.create_database("bench_export")])
    finally:
        cluster.destroy()
    load.main(["--signings", "3000"])


if __name__ == "__main__":
    main()
