import { randomUUID } from 'node:crypto';
import { signedDocument } from '../harness/runnerProcess';
import { SecurityWorld } from '../harness/securityWorld';
import { RunnerCase, validJob } from './jobs';

/** A start of the runner with a config made from the lane's valid one, and a valid signed job. */
function configCase(
  world: SecurityWorld,
  name: string,
  config: (base: Record<string, unknown>) => string | null,
  reason: RegExp,
): RunnerCase {
  return {
    boundary: 'config',
    name: `runner config: ${name}`,
    input: {
      stdin: signedDocument(
        JSON.stringify(validJob(world, { runId: randomUUID() })),
        world.keys.gate.privateKey,
      ),
      config,
    },
    expect: { status: 'failed', reason, commands: 'none' },
  };
}

/** Prototype keys in the runner's config: refused, never silently dropped. */
export function runnerConfigPrototypeCases(world: SecurityWorld): RunnerCase[] {
  const withEnvironment = (base: Record<string, unknown>) =>
    JSON.stringify(base).replace(
      '"environments":{',
      '"environments":{"__proto__":{"applyBranches":["*"]},',
    );
  return [
    configCase(
      world,
      '__proto__ key',
      base =>
        JSON.stringify(base).replace(/}$/, ',"__proto__":{"workDir":"/"}}'),
      /invalid/,
    ),
    configCase(
      world,
      'constructor key',
      base => JSON.stringify(base).replace(/}$/, ',"constructor":{}}'),
      /invalid/,
    ),
    configCase(world, 'environment __proto__', withEnvironment, /environments/),
  ];
}

/**
 * Hostile SEALED_RUNNER_CONFIG values: the real runner program started with
 * each, and a valid signed job on stdin. It must stop with `failed` naming
 * the problem, before it reads the job and before any git or Terraform.
 */
export function runnerConfigCases(world: SecurityWorld): RunnerCase[] {
  const cases: RunnerCase[] = [];
  const c = world.canary;
  const add = (
    name: string,
    config: (base: Record<string, unknown>) => string | null,
    reason: RegExp,
  ) => {
    cases.push(configCase(world, name, config, reason));
  };
  const withValue = (
    name: string,
    patch: Record<string, unknown>,
    reason: RegExp,
  ) => add(name, base => JSON.stringify({ ...base, ...patch }), reason);
  const env = (name: string, value: unknown, reason = /environments/) =>
    add(
      name,
      base =>
        JSON.stringify({
          ...base,
          environments: {
            ...(base.environments as object),
            ...(value as object),
          },
        }),
      reason,
    );

  add('unset', () => null, /SEALED_RUNNER_CONFIG is not set/);
  add('empty string', () => '', /not set/);
  add('not JSON', () => '{', /not valid JSON/);
  add('JSON null', () => 'null', /invalid/);

  add('trailing garbage', base => `${JSON.stringify(base)}x`, /not valid JSON/);
  withValue(
    'unknown key',
    { allowEverything: true },
    /allowEverything|[Uu]nrecognized/,
  );

  withValue('workDir relative', { workDir: 'work' }, /workDir/);
  withValue('workDir with ${}', { workDir: '/tmp/${HOME}/x' }, /workDir/);

  withValue(
    'workDir with a control character',
    { workDir: '/tmp/a\nb' },
    /workDir/,
  );
  withValue('planDir relative', { planDir: '../plans' }, /planDir/);
  withValue('stateDir with ${}', { stateDir: '/var/${path.root}' }, /stateDir/);
  withValue('seenJobsDir relative', { seenJobsDir: './seen' }, /seenJobsDir/);
  withValue(
    'providerMirrorDir with a NUL',
    { providerMirrorDir: '/tmp/mirror\u0000x' },
    /providerMirrorDir/,
  );

  withValue('workDir as a number', { workDir: 1 }, /workDir/);
  withValue('gitPath relative', { gitPath: 'bin/git' }, /gitPath/);
  withValue(
    'gitPath with options',
    { gitPath: 'git --upload-pack=x' },
    /gitPath/,
  );
  withValue(
    'terraformPath relative',
    { terraformPath: './terraform' },
    /terraformPath/,
  );
  withValue(
    'terraformPath with ${}',
    { terraformPath: `/usr/bin/\${file("/etc/passwd")}` },
    /terraformPath/,
  );
  withValue(
    'repositories: ext transport',
    { repositories: [`ext::sh -c touch% ${c.sibling}/pwned-config`] },
    /repositories/,
  );

  withValue(
    'repositories: credentials',
    { repositories: ['https://user:secret@github.com/acme/live.git'] },
    /repositories/,
  );
  withValue(
    'repositories: plain http',
    { repositories: ['http://example.com/live.git'] },
    /repositories/,
  );
  withValue(
    'repositories: 1,001 entries',
    {
      repositories: Array.from(
        { length: 1001 },
        (_, i) => `https://git.example.com/r${i}.git`,
      ),
    },
    /repositories/,
  );

  env('environment name upper case', { DEV: { applyBranches: ['*'] } });
  env('environment name traversal', { '../prod': { applyBranches: ['*'] } });
  env('applyBranches option injection', {
    dev: { applyBranches: [`--upload-pack=touch ${c.sibling}/pwned-branch`] },
  });
  env('applyBranches empty', { dev: { applyBranches: [] } });

  env('planPolicy unknown key', {
    dev: { applyBranches: ['*'], planPolicy: { allowEverything: true } },
  });
  env('planPolicy allowCodeExecution as a string', {
    dev: { applyBranches: ['*'], planPolicy: { allowCodeExecution: 'yes' } },
  });
  env('planPolicy provider short name', {
    dev: { applyBranches: ['*'], planPolicy: { providers: ['aws'] } },
  });
  env('environment with unknown key', {
    dev: { applyBranches: ['*'], requiredApprovals: 0 },
  });
  withValue(
    'jobPublicKey: a private key',
    { jobPublicKey: world.keys.rsa.privateKeyPem },
    /jobPublicKey/,
  );
  withValue(
    'jobPublicKey: an RSA public key',
    { jobPublicKey: world.keys.rsa.publicKeyPem },
    /jobPublicKey/,
  );
  withValue(
    'jobPublicKey: garbage',
    { jobPublicKey: 'not a key' },
    /jobPublicKey/,
  );

  withValue(
    'jobLifetimeSeconds 0',
    { jobLifetimeSeconds: 0 },
    /jobLifetimeSeconds/,
  );
  withValue(
    'jobLifetimeSeconds a year',
    { jobLifetimeSeconds: 31_536_000 },
    /jobLifetimeSeconds/,
  );

  withValue(
    'timeoutSeconds negative',
    { timeoutSeconds: -1 },
    /timeoutSeconds/,
  );

  return cases;
}
