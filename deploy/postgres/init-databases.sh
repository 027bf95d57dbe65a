#!/bin/sh
# One database and one role per service: no service can read another's tables.
set -eu
for service in customer; do
  password_var="$(echo "${service}" | tr '[:lower:]' '[:upper:]')_DB_PASSWORD"
  password="$(printenv "${password_var}")"
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" <<SQL
CREATE ROLE crm_${service} LOGIN PASSWORD '${password}';
CREATE DATABASE crm_${service} OWNER crm_${service};
REVOKE ALL ON DATABASE crm_${service} FROM PUBLIC;
SQL
done
