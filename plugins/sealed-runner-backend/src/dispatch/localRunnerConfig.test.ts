import { generateKeyPairSync } from 'node:crypto';
import { parseRunnerConfig } from '@sealed-runner/backstage-plugin-sealed-runner-common/runner';
import { localRunnerConfig } from './localRunnerConfig';

const AWS = 'registry.terraform.io/hashicorp/aws';
const JOB_KEY = generateKeyPairSync('ed25519')
  .publicKey.export({ type: 'spki', format: 'pem' })
  .toString();

describe('localRunnerConfig', () => {
  it("hands each environment's planPolicy to the runner, whose defaults fill the rest", () => {
    const config = localRunnerConfig({
      directory: '/var/lib/sealed-runner',
      repositories: ['https://git.example.com/acme/live.git'],
      environments: {
        sandbox: {
          applyBranches: ['*'],
          requiredApprovals: 0,
          serviceRequests: 'extra-approval',
          planPolicy: {
            allowCodeExecution: true,
            providers: [AWS],
            providerArguments: [],
            backends: [],
            allowNetwork: false,
          },
        },
        prod: {
          applyBranches: ['main'],
          requiredApprovals: 1,
          serviceRequests: 'extra-approval',
        },
      },
      timeoutSeconds: 1800,
      jobPublicKey: JOB_KEY,
      jobLifetimeSeconds: 120,
    });
    // Through JSON, as the dispatcher passes it in SEALED_RUNNER_CONFIG.
    const runner = parseRunnerConfig(JSON.stringify(config));
    expect(runner.environments.sandbox).toEqual({
      applyBranches: ['*'],
      planPolicy: {
        allowCodeExecution: true,
        providers: [AWS],
        providerArguments: [],
        backends: [],
        allowNetwork: false,
      },
    });
    expect(runner.environments.prod).toEqual({
      applyBranches: ['main'],
      planPolicy: {
        allowCodeExecution: false,
        providers: [],
        providerArguments: [],
        backends: [],
        allowNetwork: false,
      },
    });
    // The runner verifies jobs with the gate's key and keeps its own record of them.
    expect(runner).toMatchObject({
      jobPublicKey: JOB_KEY,
      jobLifetimeSeconds: 120,
      seenJobsDir: '/var/lib/sealed-runner/seen-jobs',
    });
  });
});
