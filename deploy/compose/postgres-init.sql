-- Run once by the postgres:15 image on an empty data directory (docker-entrypoint-initdb.d).
-- One role and one database per service: no service can read another's tables.
--
-- DEVELOPMENT ONLY: these passwords are public, in git, and match docker-compose.yml.
-- Never reuse them anywhere reachable from outside a developer's machine.

CREATE ROLE petitions LOGIN PASSWORD 'dev-only-petitions';
CREATE DATABASE petitions OWNER petitions;
REVOKE ALL ON DATABASE petitions FROM PUBLIC;

CREATE ROLE targets LOGIN PASSWORD 'dev-only-targets';
CREATE DATABASE targets OWNER targets;
REVOKE ALL ON DATABASE targets FROM PUBLIC;

CREATE ROLE notifier LOGIN PASSWORD 'dev-only-notifier';
CREATE DATABASE notifier OWNER notifier;
REVOKE ALL ON DATABASE notifier FROM PUBLIC;
