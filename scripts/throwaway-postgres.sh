# Sourced by scripts/test-all.sh: starts a throwaway PostgreSQL server for the
# PostgreSQL tests unless BACKSTAGE_TEST_DATABASE_POSTGRES15_CONNECTION_STRING
# already points at one, and stops it when the shell exits.

if [ -n "${BACKSTAGE_TEST_DATABASE_POSTGRES15_CONNECTION_STRING:-}" ]; then
  echo "Using PostgreSQL at $BACKSTAGE_TEST_DATABASE_POSTGRES15_CONNECTION_STRING"
  return 0
fi

for tool in initdb pg_ctl; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "PostgreSQL server binaries ($tool) are needed for the PostgreSQL tests." >&2
    echo "Install PostgreSQL 15, or set BACKSTAGE_TEST_DATABASE_POSTGRES15_CONNECTION_STRING" >&2
    echo "to a server the tests may create databases on." >&2
    exit 1
  fi
done

pg_dir=$(mktemp -d /tmp/sealed-runner-pg-XXXXXX)
pg_port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
# The server refuses to run as root: use the postgres user when we are root.
if [ "$(id -u)" = "0" ]; then
  chown postgres "$pg_dir"
  as_pg=(runuser -u postgres --)
else
  as_pg=()
fi
"${as_pg[@]}" initdb -D "$pg_dir/data" -A trust -U postgres >"$pg_dir/initdb.log" 2>&1 || {
  cat "$pg_dir/initdb.log" >&2
  exit 1
}
"${as_pg[@]}" pg_ctl -D "$pg_dir/data" -l "$pg_dir/server.log" -w \
  -o "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off" \
  start >/dev/null
stop_throwaway_postgres() {
  "${as_pg[@]}" pg_ctl -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1
  rm -rf "$pg_dir"
}
trap stop_throwaway_postgres EXIT
export BACKSTAGE_TEST_DATABASE_POSTGRES15_CONNECTION_STRING="postgresql://postgres@127.0.0.1:$pg_port"
echo "Started a throwaway PostgreSQL on port $pg_port"
