import { ConfigReader } from '@backstage/config';
import { readAnnotationRules } from './readAnnotationRules';

describe('readAnnotationRules', () => {
  it('reads the environment names and the repository allowlist', () => {
    expect(
      readAnnotationRules(
        new ConfigReader({
          sealedRunner: {
            repositories: ['https://github.com/acme/*'],
            environments: {
              dev: { applyBranches: ['*'], requiredApprovals: 0 },
              prod: { applyBranches: ['main'], requiredApprovals: 1 },
            },
            runner: { type: 'local' },
          },
        }),
      ),
    ).toEqual({
      environments: ['dev', 'prod'],
      repositories: ['https://github.com/acme/*'],
    });
  });

  it('checks syntax only when sealedRunner is not configured', () => {
    expect(readAnnotationRules(new ConfigReader({ catalog: {} }))).toEqual({});
  });

  it('leaves out a rule whose key is absent', () => {
    expect(
      readAnnotationRules(
        new ConfigReader({ sealedRunner: { environments: { dev: {} } } }),
      ),
    ).toEqual({ environments: ['dev'] });
  });

  it('fails with a message naming a key of the wrong type', () => {
    expect(() =>
      readAnnotationRules(
        new ConfigReader({
          sealedRunner: { repositories: 'https://github.com/acme/*' },
        }),
      ),
    ).toThrow(/sealedRunner\.repositories/);
  });
});
