import { ConfigReader } from '@backstage/config';
import { JsonObject } from '@backstage/types';
import { readSealedRunnerConfig } from './config';

const AWS = 'registry.terraform.io/hashicorp/aws';

function read(environments: JsonObject) {
  return readSealedRunnerConfig(
    new ConfigReader({
      sealedRunner: {
        repositories: ['https://git.example.com/acme/live.git'],
        environments,
      },
    }),
  );
}

describe('readSealedRunnerConfig: environments.<name>.planPolicy', () => {
  it('leaves an unset planPolicy to the runner, whose default refuses code execution', () => {
    expect(
      read({ prod: { applyBranches: ['main'], requiredApprovals: 1 } })
        .environments.prod.planPolicy,
    ).toBeUndefined();
  });

  it.each([
    [{}, { allowCodeExecution: false, providers: [] }],
    [{ allowCodeExecution: true }, { allowCodeExecution: true, providers: [] }],
    [{ providers: [AWS] }, { allowCodeExecution: false, providers: [AWS] }],
  ])('reads %j as %j', (planPolicy, expected) => {
    const config = read({
      sandbox: { applyBranches: ['*'], requiredApprovals: 0, planPolicy },
    });
    expect(config.environments.sandbox.planPolicy).toEqual(expected);
  });

  it.each([
    [
      'a shorthand provider address',
      { providers: ['hashicorp/aws'] },
      `must be written in full and in lower case: ${AWS}`,
      'environments.prod.planPolicy.providers[0]',
    ],
    [
      'a provider wildcard',
      { providers: ['registry.terraform.io/hashicorp/*'] },
      'must be [host/]namespace/type',
      'environments.prod.planPolicy.providers[0]',
    ],
    [
      'allowCodeExecution as a string',
      { allowCodeExecution: 'yes' },
      'expected boolean',
      'environments.prod.planPolicy.allowCodeExecution',
    ],
    [
      'an unknown key',
      { allowProviders: '*' },
      'Unrecognized key: "allowProviders"',
      'environments.prod.planPolicy',
    ],
  ])('fails startup on %s, naming the key', (_, planPolicy, message, path) => {
    const attempt = () =>
      read({
        prod: { applyBranches: ['main'], requiredApprovals: 1, planPolicy },
      });
    expect(attempt).toThrow(/^Invalid sealedRunner configuration:/);
    expect(attempt).toThrow(message);
    expect(attempt).toThrow(`→ at ${path}`);
  });
});
