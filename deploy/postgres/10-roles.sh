#!/bin/sh
# First start of the database volume (the postgres image runs /docker-entrypoint-initdb.d/*.sh
# once, as the server's superuser): two roles, no superuser among the app's.
#   crm_owner  owns the database and its schema; runs migrations and db_grant_app_role.
#   crm_app    the web app and the workers: rows only (see collections_crm/core/dbroles.py).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v owner_pw="$CRM_OWNER_DB_PASSWORD" -v app_pw="$CRM_APP_DB_PASSWORD" <<'SQL'
CREATE ROLE crm_owner LOGIN PASSWORD :'owner_pw' NOSUPERUSER NOCREATEROLE NOCREATEDB;
CREATE ROLE crm_app LOGIN PASSWORD :'app_pw' NOSUPERUSER NOCREATEROLE NOCREATEDB NOBYPASSRLS;
ALTER DATABASE crm OWNER TO crm_owner;
ALTER SCHEMA public OWNER TO crm_owner;
REVOKE ALL ON DATABASE crm FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE crm TO crm_owner, crm_app;
-- Import staging tables are the app's own, in a schema of their own, first on its path.
CREATE SCHEMA crm_work AUTHORIZATION crm_owner;
GRANT USAGE, CREATE ON SCHEMA crm_work TO crm_app;
ALTER ROLE crm_app SET search_path = crm_work, public;
SQL
