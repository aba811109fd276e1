"""The statement lifecycle in one place: the only code that changes a statement's status or a counter.

- `rules`: which statements count and which initiatives are public, written once.
- `lifecycle`: submit, confirm (the first of a person's addresses wins, the others lapse), new links, invalidate.
- `quarantine`: set aside by criteria and release; `purge`: destroy what retention says is due.
- `counters`: the per-country and per-day counters, moved only here; `check` and `repair` against a recount.
- `tallies`: the staff pages' numbers (mail, subscribers, fingerprints, quarantines), moved by the code that
  changes what they count, written at commit; checked and repaired with the counters.
"""
