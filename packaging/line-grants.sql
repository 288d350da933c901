-- Each table's rights on a line database: run as station_owner after every `station db upgrade`:
--     psql 'host=DBHOST dbname=station user=station_owner sslmode=verify-full' -f line-grants.sql
-- station_writer: SELECT, INSERT, UPDATE on the tables stations write; SELECT, INSERT on audit_log;
-- no DELETE (the store deletes nothing), no DDL. The TRUNCATE (MAINTAIN from PostgreSQL 17) on audit_log
-- lets the sealing lock the table; the append-only trigger refuses TRUNCATE itself.
-- The line database's own tables (forwarded chains, claims, serial leases, their index) are made here
-- if they are not there, with the writer's rights each needs (line_entries and line_heads: SELECT, INSERT).
-- station_auditor: SELECT on every table.
-- Rendered by `python -m station.store.line_roles packaging`; do not edit (docs/line-database.md).
\set ON_ERROR_STOP on
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM station_writer, station_auditor;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM station_writer, station_auditor;
CREATE TABLE IF NOT EXISTS line_claims ( serial VARCHAR(200) NOT NULL, station VARCHAR(120) NOT NULL, state VARCHAR(10) NOT NULL, work_order VARCHAR(200), updated_at TIMESTAMP WITH TIME ZONE NOT NULL, PRIMARY KEY (serial) );
CREATE INDEX IF NOT EXISTS ix_line_claims_work_order ON line_claims (work_order);
CREATE TABLE IF NOT EXISTS line_conflicts ( kind VARCHAR(40) NOT NULL, subject VARCHAR(200) NOT NULL, stations TEXT NOT NULL, found_at TIMESTAMP WITH TIME ZONE NOT NULL, PRIMARY KEY (kind, subject) );
CREATE TABLE IF NOT EXISTS line_entries ( station VARCHAR(120) NOT NULL, sequence INTEGER NOT NULL, recorded_at TIMESTAMP WITH TIME ZONE NOT NULL, actor VARCHAR(200) NOT NULL, action VARCHAR(200) NOT NULL, detail TEXT NOT NULL, previous_hash VARCHAR(64) NOT NULL, entry_hash VARCHAR(64) NOT NULL, signature BYTEA NOT NULL, record_table VARCHAR(40), record_id INTEGER, record_digest VARCHAR(64), row_json TEXT, received_at TIMESTAMP WITH TIME ZONE NOT NULL, PRIMARY KEY (station, sequence) );
CREATE TABLE IF NOT EXISTS line_heads ( station VARCHAR(120) NOT NULL, sequence INTEGER NOT NULL, entry_hash VARCHAR(64) NOT NULL, signature BYTEA NOT NULL, received_at TIMESTAMP WITH TIME ZONE NOT NULL, PRIMARY KEY (station, sequence) );
CREATE TABLE IF NOT EXISTS line_index_state ( version VARCHAR(40) NOT NULL, built_at TIMESTAMP WITH TIME ZONE NOT NULL, PRIMARY KEY (version) );
CREATE TABLE IF NOT EXISTS line_passes ( station VARCHAR(120) NOT NULL, attempt_id INTEGER NOT NULL, sequence INTEGER NOT NULL, serial VARCHAR(200) NOT NULL, device_id VARCHAR(200), passed_at TIMESTAMP WITH TIME ZONE NOT NULL, pending BOOLEAN NOT NULL, PRIMARY KEY (station, attempt_id) );
CREATE INDEX IF NOT EXISTS ix_line_passes_device_id ON line_passes (device_id);
CREATE INDEX IF NOT EXISTS ix_line_passes_pending ON line_passes (pending);
CREATE INDEX IF NOT EXISTS ix_line_passes_serial ON line_passes (serial);
CREATE TABLE IF NOT EXISTS line_serial_blocks ( work_order VARCHAR(200) NOT NULL, first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL, station VARCHAR(120) NOT NULL, leased_at TIMESTAMP WITH TIME ZONE NOT NULL, PRIMARY KEY (work_order, first_seq) );
CREATE TABLE IF NOT EXISTS line_serial_rules ( work_order VARCHAR(200) NOT NULL, template VARCHAR(200) NOT NULL, first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL, check_digit VARCHAR(20) NOT NULL, next_seq INTEGER NOT NULL, created_by VARCHAR(200) NOT NULL, created_at TIMESTAMP WITH TIME ZONE NOT NULL, PRIMARY KEY (work_order) );
CREATE TABLE IF NOT EXISTS line_units ( station VARCHAR(120) NOT NULL, unit_id INTEGER NOT NULL, sequence INTEGER NOT NULL, serial VARCHAR(200) NOT NULL, device_id VARCHAR(200), is_development BOOLEAN NOT NULL, development_at TIMESTAMP WITH TIME ZONE, pending BOOLEAN NOT NULL, PRIMARY KEY (station, unit_id) );
CREATE INDEX IF NOT EXISTS ix_line_units_device_id ON line_units (device_id);
CREATE INDEX IF NOT EXISTS ix_line_units_pending ON line_units (pending);
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
GRANT SELECT, INSERT, UPDATE, DELETE ON line_claims TO station_writer;
GRANT SELECT, INSERT ON line_conflicts TO station_writer;
GRANT SELECT, INSERT ON line_entries TO station_writer;
GRANT SELECT, INSERT ON line_heads TO station_writer;
GRANT SELECT, INSERT, DELETE ON line_index_state TO station_writer;
GRANT SELECT, INSERT, UPDATE, DELETE ON line_passes TO station_writer;
GRANT SELECT, INSERT ON line_serial_blocks TO station_writer;
GRANT SELECT, INSERT, UPDATE ON line_serial_rules TO station_writer;
GRANT SELECT, INSERT, UPDATE, DELETE ON line_units TO station_writer;
GRANT SELECT ON alembic_version TO station_writer;
DO $$ BEGIN IF current_setting('server_version_num')::int >= 170000 THEN EXECUTE 'GRANT MAINTAIN ON audit_log TO station_writer'; ELSE EXECUTE 'GRANT TRUNCATE ON audit_log TO station_writer'; END IF; END $$;
GRANT SELECT ON alembic_version TO station_auditor;
GRANT SELECT ON attempts TO station_auditor;
GRANT SELECT ON audit_log TO station_auditor;
GRANT SELECT ON credentials TO station_auditor;
GRANT SELECT ON golden_references TO station_auditor;
GRANT SELECT ON inspections TO station_auditor;
GRANT SELECT ON label_jobs TO station_auditor;
GRANT SELECT ON line_claims TO station_auditor;
GRANT SELECT ON line_conflicts TO station_auditor;
GRANT SELECT ON line_entries TO station_auditor;
GRANT SELECT ON line_heads TO station_auditor;
GRANT SELECT ON line_index_state TO station_auditor;
GRANT SELECT ON line_passes TO station_auditor;
GRANT SELECT ON line_serial_blocks TO station_auditor;
GRANT SELECT ON line_serial_rules TO station_auditor;
GRANT SELECT ON line_units TO station_auditor;
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
