-- A line database's roles and database: run once, as the PostgreSQL superuser:
--     sudo -u postgres psql -f line-database.sql
-- Then, as station_owner: station db upgrade, and line-grants.sql (after every upgrade).
-- Passwords are set out of band: sudo -u postgres psql -c '\password station_owner'
-- A station's role: CREATE ROLE station_line1_st1 LOGIN IN ROLE station_writer;
-- Rendered by `python -m station.store.line_roles packaging`; do not edit (docs/line-database.md).
\set ON_ERROR_STOP on
CREATE ROLE station_owner LOGIN;
CREATE ROLE station_writer NOLOGIN;
CREATE ROLE station_auditor NOLOGIN;
CREATE DATABASE station OWNER station_owner ENCODING 'UTF8' TEMPLATE template0;
REVOKE ALL ON DATABASE station FROM PUBLIC;
GRANT CONNECT ON DATABASE station TO station_writer, station_auditor;
\connect station
ALTER SCHEMA public OWNER TO station_owner;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO station_writer, station_auditor;
