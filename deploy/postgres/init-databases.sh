#!/bin/sh
# One database and one role per service, each role owning only its own database, so no
# service can read another's tables. Runs once, when the PostgreSQL volume is first
# initialised (docker-entrypoint-initdb.d); the passwords come from <SERVICE>_DB_PASSWORD.
set -eu
prefix="${CRM_DB_PREFIX:-crm_}"  # the role and database names: crm_customer, ...
for service in customer orders analytics recommend gateway; do
  password_var="$(echo "${service}" | tr '[:lower:]' '[:upper:]')_DB_PASSWORD"
  password="$(printenv "${password_var}" || true)"
  if [ -z "${password}" ]; then
    echo "init-databases: ${password_var} is not set" >&2
    exit 1
  fi
  # psql variables quote the names and the password, whatever characters they hold.
  psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER}" --dbname postgres \
    -v role="${prefix}${service}" -v password="${password}" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
CREATE DATABASE :"role" OWNER :"role";
REVOKE ALL ON DATABASE :"role" FROM PUBLIC;
SQL
done
