-- What Quorum's app servers may do in its PostgreSQL database (README, "Deployment"): read and write the data,
-- append to the audit log and read it, nothing else. No ownership: an owner may change or drop any table, switch
-- its triggers off or TRUNCATE it.
--
-- Run it as the role that owns the schema (the one that runs `flask --app wsgi db upgrade`), after the first
-- upgrade; running it again (after a later upgrade) changes nothing that is already right. The app's role is
-- `quorum_app`, made once by a superuser: CREATE ROLE quorum_app LOGIN PASSWORD '...';

GRANT USAGE ON SCHEMA public TO quorum_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO quorum_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO quorum_app;
-- tables and sequences of later migrations get the same rights when this owner creates them
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO quorum_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE ON SEQUENCES TO quorum_app;

-- the audit log is appended to and read, never changed (the triggers refuse it too, for the owner as well)
REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON audit_entry FROM quorum_app;
-- which migrations ran is the owner's business
REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON alembic_version FROM quorum_app;
