-- Each table's rights on a line database: run as station_owner after every `station db upgrade`:
--     psql 'host=DBHOST dbname=station user=station_owner sslmode=verify-full' -f line-grants.sql
-- station_writer: SELECT, INSERT, UPDATE on the tables stations write; SELECT, INSERT on audit_log;
-- no DELETE (the store deletes nothing), no DDL. The TRUNCATE (MAINTAIN from PostgreSQL 17) on audit_log
-- lets the sealing lock the table; the append-only trigger refuses TRUNCATE itself.
-- station_auditor: SELECT on every table.
-- Rendered by `python -m station.store.line_roles packaging`; do not edit (docs/line-database.md).
\set ON_ERROR_STOP on
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM station_writer, station_auditor;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM station_writer, station_auditor;
GRANT SELECT, INSERT, UPDATE ON attempts TO station_writer;
GRANT SELECT, INSERT ON audit_log TO station_writer;
GRANT SELECT, INSERT, UPDATE ON credentials TO station_writer;
GRANT SELECT, INSERT, UPDATE ON golden_references TO station_writer;
GRANT SELECT, INSERT, UPDATE ON inspections TO station_writer;
GRANT SELECT, INSERT, UPDATE ON label_jobs TO station_writer;
GRANT SELECT, INSERT, UPDATE ON operators TO station_writer;
GRANT SELECT, INSERT, UPDATE ON outbox_records TO station_writer;
GRANT SELECT, INSERT, UPDATE ON person_keys TO station_writer;
GRANT SELECT, INSERT, UPDATE ON recipe_signatures TO station_writer;
GRANT SELECT, INSERT, UPDATE ON recipes TO station_writer;
GRANT SELECT, INSERT, UPDATE ON sealed_tokens TO station_writer;
GRANT SELECT, INSERT, UPDATE ON selftests TO station_writer;
GRANT SELECT, INSERT, UPDATE ON serial_blocks TO station_writer;
GRANT SELECT, INSERT, UPDATE ON serial_rules TO station_writer;
GRANT SELECT, INSERT, UPDATE ON serials TO station_writer;
GRANT SELECT, INSERT, UPDATE ON stations TO station_writer;
GRANT SELECT, INSERT, UPDATE ON steps TO station_writer;
GRANT SELECT, INSERT, UPDATE ON token_uses TO station_writer;
GRANT SELECT, INSERT, UPDATE ON units TO station_writer;
GRANT SELECT, INSERT, UPDATE ON vault_parameters TO station_writer;
GRANT SELECT, INSERT, UPDATE ON work_orders TO station_writer;
GRANT SELECT ON alembic_version TO station_writer;
DO $$ BEGIN IF current_setting('server_version_num')::int >= 170000 THEN EXECUTE 'GRANT MAINTAIN ON audit_log TO station_writer'; ELSE EXECUTE 'GRANT TRUNCATE ON audit_log TO station_writer'; END IF; END $$;
GRANT SELECT ON alembic_version TO station_auditor;
GRANT SELECT ON attempts TO station_auditor;
GRANT SELECT ON audit_log TO station_auditor;
GRANT SELECT ON credentials TO station_auditor;
GRANT SELECT ON golden_references TO station_auditor;
GRANT SELECT ON inspections TO station_auditor;
GRANT SELECT ON label_jobs TO station_auditor;
GRANT SELECT ON operators TO station_auditor;
GRANT SELECT ON outbox_records TO station_auditor;
GRANT SELECT ON person_keys TO station_auditor;
GRANT SELECT ON recipe_signatures TO station_auditor;
GRANT SELECT ON recipes TO station_auditor;
GRANT SELECT ON sealed_tokens TO station_auditor;
GRANT SELECT ON selftests TO station_auditor;
GRANT SELECT ON serial_blocks TO station_auditor;
GRANT SELECT ON serial_rules TO station_auditor;
GRANT SELECT ON serials TO station_auditor;
GRANT SELECT ON stations TO station_auditor;
GRANT SELECT ON steps TO station_auditor;
GRANT SELECT ON token_uses TO station_auditor;
GRANT SELECT ON units TO station_auditor;
GRANT SELECT ON vault_parameters TO station_auditor;
GRANT SELECT ON work_orders TO station_auditor;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO station_writer;
GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO station_auditor;
