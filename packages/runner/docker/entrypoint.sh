#!/bin/sh
# Entry point of the sealed runner image (ENTRYPOINT in packages/runner/Dockerfile).
#
# ECS RunTask lets its caller — the Backstage backend — override the
# container's command and environment, but not its entryPoint. So:
#
# 1. The one argument is `--config-sha256=<hex>`, which the task definition
#    puts in `entryPoint` (deploy/terraform). SEALED_RUNNER_CONFIG must hash to
#    it: a caller who overrides the config (its own repositories, its own
#    job-signing key, another environment's roles) starts a task that
#    refuses to run. Any other or further
#    argument (an overridden `command`) is refused too.
# 2. The runner starts with an empty environment plus an allowlist: PATH and
#    HOME fixed here, and the variables below passed through when set. With
#    PATH and HOME, that list is exactly RUNNER_ENVIRONMENT in
#    packages/runner/src/main.ts (src/Dockerfile.test.ts compares them), so
#    NODE_OPTIONS, LD_PRELOAD, GIT_*, TF_* or proxies never reach node, git or
#    Terraform, and the runner's own check of its environment is the tripwire.
# 3. node refuses eval and new Function, and native addons (the runner has
#    none); it reads no NODE_OPTIONS, since the environment no longer has one.
# 4. The runner runs as root inside the container (the task definition's
#    user 0:0, with most capabilities dropped): it starts git and Terraform
#    as the unprivileged sandbox user 10002 (`terraform` in the image) and
#    kills every process of that user after each command. That user cannot
#    read this process's environment (/proc/<pid>/environ: the config and
#    the credentials endpoint's token are the runner's alone), its files, or
#    write to its stdout, which is the run's log and result.
set -eu

readonly NODE=/usr/local/bin/node
readonly RUNNER=/app/packages/runner/bin/sealed-runner
readonly RUNNER_PATH=/usr/local/bin:/usr/bin:/bin
# Root's and 0711 (Dockerfile): the sandbox user can plant no .gitconfig
# or .aws/ for the runner here.
readonly RUNNER_HOME=/work

# Passed through when set: the runner's config and job key, the locale and
# temp dir, and what ECS Fargate sets for the task role and task metadata.
readonly PASS_THROUGH='
  SEALED_RUNNER_CONFIG
  SEALED_RUNNER_JOB_KEY
  LANG
  TMPDIR
  HOSTNAME
  AWS_CONTAINER_AUTHORIZATION_TOKEN
  AWS_CONTAINER_CREDENTIALS_FULL_URI
  AWS_CONTAINER_CREDENTIALS_RELATIVE_URI
  AWS_DEFAULT_REGION
  AWS_EXECUTION_ENV
  AWS_REGION
  ECS_AGENT_URI
  ECS_CONTAINER_METADATA_URI
  ECS_CONTAINER_METADATA_URI_V4
'

refuse() {
  printf 'sealed-runner-entrypoint: %s\n' "$1" >&2
  # The runner's exit code for a job refused before anything ran.
  exit 2
}

if [ "$#" -ne 1 ]; then
  refuse "expected exactly one argument, --config-sha256=<sha256 of SEALED_RUNNER_CONFIG>, got $#"
fi
case "$1" in
  --config-sha256=*) expected=${1#--config-sha256=} ;;
  *) refuse 'the only argument is --config-sha256=<sha256 of SEALED_RUNNER_CONFIG>' ;;
esac
case "$expected" in
  *[!0-9a-f]*) refuse '--config-sha256 must be 64 lowercase hex digits' ;;
esac
if [ "${#expected}" -ne 64 ]; then
  refuse '--config-sha256 must be 64 lowercase hex digits'
fi
if [ -z "${SEALED_RUNNER_CONFIG+set}" ]; then
  refuse 'SEALED_RUNNER_CONFIG is not set'
fi
actual=$(printf '%s' "$SEALED_RUNNER_CONFIG" | sha256sum)
actual=${actual%% *}
if [ "$actual" != "$expected" ]; then
  refuse "SEALED_RUNNER_CONFIG does not match the task definition (sha256 $actual, expected $expected)"
fi

# From here on the positional parameters are env's arguments: NAME=value
# pairs, byte for byte. printenv appends a newline; the sentinel x keeps the
# command substitution from eating the value's own trailing newlines.
set -- PATH="$RUNNER_PATH" HOME="$RUNNER_HOME"
for name in $PASS_THROUGH; do
  if value=$(printenv -- "$name" && printf x); then
    set -- "$@" "$name=${value%?x}"
  fi
done

exec env -i "$@" "$NODE" \
  --disallow-code-generation-from-strings \
  --no-addons \
  "$RUNNER"
