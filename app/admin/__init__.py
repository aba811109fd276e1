"""The staff side: accounts, initiatives, the dashboard, exports, the audit log and quarantine."""
