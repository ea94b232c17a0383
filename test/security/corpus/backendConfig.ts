import { Case, Outcome, show } from '../framework';
import { ConfigStartResult } from '../harness/configStart';
import { SecurityWorld } from '../harness/securityWorld';

/**
 * A few hostile `sealedRunner.*` configs, each one real backend start. Each
 * start yields one case for the start itself (refused: never healthy, exits
 * non-zero) and one per hostile value (the log names it).
 */
export interface BackendConfigStart {
  name: string;
  config: object;
  /** Per hostile value: what the refusal message must name. */
  values: Array<{ label: string; named: RegExp }>;
}

export function backendConfigStarts(
  world: SecurityWorld,
): BackendConfigStart[] {
  const sib = world.canary.sibling;
  const environments = (extra: object) => ({
    dev: { applyBranches: ['*'], requiredApprovals: 0 },
    prod: { applyBranches: ['main'], requiredApprovals: 1 },
    ...extra,
  });
  return [
    {
      name: 'environments',
      config: {
        sealedRunner: {
          environments: environments({
            Bad_Env: { applyBranches: ['*'], requiredApprovals: 0 },
            stage: {
              applyBranches: [
                `--upload-pack=touch ${sib}/pwned-backend-config`,
              ],
              requiredApprovals: -1,
            },
          }),
        },
      },
      values: [
        { label: 'environment name Bad_Env', named: /Bad_Env/ },
        {
          label: 'applyBranches with option injection',
          named: /environments\.stage\.applyBranches/,
        },
        {
          label: 'negative requiredApprovals',
          named: /environments\.stage\.requiredApprovals/,
        },
      ],
    },
    {
      name: 'repositories-and-runner',
      config: {
        sealedRunner: {
          repositories: [
            `ext::sh -c touch% ${sib}/pwned-backend-repo`,
            'https://user:secret@github.com/acme/live.git',
          ],
          jobSigning: { lifetimeSeconds: 0 },
          runner: {
            local: {
              directory: '../../.sealed-runner/runner',
              terraformPath: 'terraform',
            },
          },
        },
      },
      values: [
        {
          label: 'repository with the ext:: transport',
          named: /repositories\[0\]/,
        },
        { label: 'repository with credentials', named: /repositories\[1\]/ },
        {
          label: 'jobSigning.lifetimeSeconds 0',
          named: /jobSigning\.lifetimeSeconds/,
        },
        {
          label: 'relative terraformPath',
          named: /runner\.local\.terraformPath/,
        },
      ],
    },
    {
      // The key is checked after the config parses, so it gets a start of its own.
      name: 'signing-key',
      config: {
        sealedRunner: {
          jobSigning: { privateKey: world.keys.rsa.privateKeyPem },
        },
      },
      values: [{ label: 'RSA job signing key', named: /Ed25519/ }],
    },
  ];
}

export type BackendConfigCase = Case<
  { start: string; value?: string },
  { named?: RegExp }
>;

/**
 * What a judged case is about: the start's exit, or a value named. (An
 * environment named `__proto__` is not among them: Backstage's config
 * loader drops that key from config files before any plugin reads them, so
 * the environment is simply not configured and its targets are not
 * deployable; readSealedRunnerConfig refuses it where it can see it —
 * plugins/sealed-runner-backend/src/config.test.ts.)
 */
export type BackendConfigAspect = 'exit' | 'value';

/** Judges one start: the start case, then one case per value. */
export function judgeBackendConfigStart(
  start: BackendConfigStart,
  result: ConfigStartResult,
): Array<{
  c: BackendConfigCase;
  outcome: Outcome;
  aspect: BackendConfigAspect;
}> {
  const failure = result.log
    .split('\n')
    .filter(line =>
      /startup failed|threw an error during startup|Invalid sealedRunner configuration/.test(
        line,
      ),
    )
    .join('\n');
  const refusedToServe = !result.healthy;
  const startProblems: string[] = [];
  if (result.exitCode === null) {
    startProblems.push(
      `did not exit: still running ${
        result.signal ? 'when stopped' : ''
      } after its startup failed (serving 503)`.replace('  ', ' '),
    );
  } else if (result.exitCode === 0) {
    startProblems.push('exited 0');
  }
  if (!failure) startProblems.push('no startup failure in its log');
  const observed = result.healthy
    ? 'started and answered /health'
    : `exit ${
        result.exitCode ?? `none (${result.signal ?? 'running'})`
      }; ${show(failure.replace(/\s+/g, ' '), 300)}`;
  const outcomes: Array<{
    c: BackendConfigCase;
    outcome: Outcome;
    aspect: BackendConfigAspect;
  }> = [
    {
      aspect: 'exit',
      c: {
        boundary: 'config',
        name: `backend config ${start.name}: refuses to start and exits non-zero`,
        input: { start: start.name },
        expect: {},
      },
      outcome: {
        refused: refusedToServe && !!failure,
        problems: startProblems,
        observed,
      },
    },
  ];
  for (const value of start.values) {
    const named = value.named.test(failure);
    outcomes.push({
      aspect: 'value',
      c: {
        boundary: 'config',
        name: `backend config ${start.name}: ${value.label}`,
        input: { start: start.name, value: value.label },
        expect: { named: value.named },
      },
      outcome: {
        refused: refusedToServe && !!failure,
        problems: named
          ? []
          : [`the startup error does not name it (${value.named})`],
        observed,
      },
    });
  }
  return outcomes;
}
