import { generateKeyPairSync } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalRunnerOptions } from './localRunnerConfig';
import { probeLocalSandbox } from './LocalDispatcher';

const JOB_KEY = generateKeyPairSync('ed25519')
  .publicKey.export({ type: 'spki', format: 'pem' })
  .toString();

/*
 * The backend asks the runner's own probe program, started as runs are,
 * whether the sandbox can start: it refuses to start when it cannot.
 */
describe('probeLocalSandbox', () => {
  let directory: string;
  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'sealed-runner-probe-'));
    // Traversable for the sandbox user bubblewrap runs as, as the
    // backend makes the local runner's directory.
    await chmod(directory, 0o711);
  });
  afterAll(() => rm(directory, { recursive: true, force: true }));

  const options = (
    sandbox: LocalRunnerOptions['sandbox'],
  ): LocalRunnerOptions => ({
    directory,
    sandbox,
    repositories: ['https://git.example.com/acme/live.git'],
    environments: {},
    timeoutSeconds: 60,
    jobPublicKey: JOB_KEY,
    jobLifetimeSeconds: 120,
  });

  it('finds nothing wrong where bubblewrap starts a sandbox', async () => {
    await expect(probeLocalSandbox(options({}))).resolves.toBeUndefined();
  });

  it('names the missing bubblewrap', async () => {
    await expect(
      probeLocalSandbox(options({ bwrapPath: '/nonexistent/bwrap' })),
    ).resolves.toBe(
      'bubblewrap is not installed at /nonexistent/bwrap (Debian/Ubuntu: apt-get install bubblewrap)',
    );
  });

  it('reports a bubblewrap that cannot start a sandbox, with what it said', async () => {
    const broken = join(directory, 'broken-bwrap');
    await writeFile(
      broken,
      '#!/bin/sh\necho "setting up uid map: Permission denied" >&2\nexit 1\n',
      { mode: 0o755 },
    );
    await expect(
      probeLocalSandbox(options({ bwrapPath: broken })),
    ).resolves.toMatch(
      /^bubblewrap at .*broken-bwrap could not start a sandbox \(are unprivileged user namespaces allowed\?\): setting up uid map: Permission denied$/,
    );
  });
});
