import { parseRunnerConfig } from '@sealed-runner/runner';
import { localRunnerConfig } from './localRunnerConfig';

const AWS = 'registry.terraform.io/hashicorp/aws';

describe('localRunnerConfig', () => {
  it("hands each environment's planPolicy to the runner, whose defaults fill the rest", () => {
    const config = localRunnerConfig({
      directory: '/var/lib/sealed-runner',
      repositories: ['https://git.example.com/acme/live.git'],
      environments: {
        sandbox: {
          applyBranches: ['*'],
          requiredApprovals: 0,
          planPolicy: { allowCodeExecution: true, providers: [AWS] },
        },
        prod: { applyBranches: ['main'], requiredApprovals: 1 },
      },
      timeoutSeconds: 1800,
    });
    // Through JSON, as the dispatcher passes it in SEALED_RUNNER_CONFIG.
    const runner = parseRunnerConfig(JSON.stringify(config));
    expect(runner.environments.sandbox).toEqual({
      applyBranches: ['*'],
      planPolicy: { allowCodeExecution: true, providers: [AWS] },
    });
    expect(runner.environments.prod).toEqual({
      applyBranches: ['main'],
      planPolicy: { allowCodeExecution: false, providers: [] },
    });
  });
});
