"""Partner organisations of a coalition campaign: their codes, logos and keys, the statements their links and embeds
bring, and the addresses that asked for their updates, handed over sealed to them
(docs/decisions/012-partners-and-embeds.md)."""
