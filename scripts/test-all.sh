#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, type check, lint, then every test
# (unit, integration on SQLite and PostgreSQL, end to end with the real
# backend, runner, git and Terraform, and in Chromium against the built
# app). Extra arguments go to jest.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v terraform >/dev/null 2>&1; then
  echo "Terraform is needed for the tests (the runner and end-to-end tests run it for real)." >&2
  exit 1
fi
if ! command -v bwrap >/dev/null 2>&1; then
  echo "bubblewrap is needed: the runner runs git and Terraform in its sandbox (apt-get install -y bubblewrap)." >&2
  exit 1
fi
if [ ! -x "${SEALED_RUNNER_CHROMIUM:-/usr/bin/chromium}" ]; then
  echo "Chromium is needed for the browser test: apt-get install -y chromium (or set SEALED_RUNNER_CHROMIUM)." >&2
  exit 1
fi

source scripts/throwaway-postgres.sh
export BACKSTAGE_TEST_DISABLE_DOCKER=1

yarn prettier:check
yarn tsc
yarn lint:all
# CI=true: one run, no watch mode.
CI=true yarn backstage-cli repo test "$@"
