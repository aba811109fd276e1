"""Updates to supporters: organizers write one (`writing`), test it on themselves, and the mail worker sends it to
every confirmed subscriber at the configured pace (`sending`). docs/decisions/011-updates-to-supporters.md."""
