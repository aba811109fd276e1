"""The ECI rules as data and pure functions: no Flask, no database, unit-testable in milliseconds."""
