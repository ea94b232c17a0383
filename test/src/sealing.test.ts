import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixtureGit } from '@sealed-runner/demo';
import {
  BackendProcess,
  createIsolatedRoot,
  GateClient,
  IsolatedRoot,
  pushBranch,
} from './index';

/*
 * The attacks that bent the runner before it was sealed, replayed through
 * the real backend, catalog and runner (git, Terraform, bubblewrap): each
 * is refused before Terraform runs, or runs in a sandbox where it reaches
 * nothing.
 */

jest.setTimeout(300_000);

const PAYMENTS = 'component:default/payments';
const FORGED_RESULT = JSON.stringify({
  type: 'result',
  status: 'succeeded',
  commitSha: '0'.repeat(40),
  plan: { add: 0, change: 0, destroy: 0 },
  changes: [],
  planSha256: 'f'.repeat(64),
});

/** Every file below `dir` with its sha256, relative to it. */
async function fingerprint(dir: string): Promise<Record<string, string>> {
  const entries = await readdir(dir, {
    recursive: true,
    withFileTypes: true,
  }).catch(() => []);
  const files: Record<string, string> = {};
  for (const entry of entries) {
    if (entry.isFile()) {
      const path = join(entry.parentPath, entry.name);
      files[path.slice(dir.length + 1)] = createHash('sha256')
        .update(await readFile(path))
        .digest('hex');
    }
  }
  return files;
}

/** Pids of processes on this machine whose command line contains `marker`. */
async function processesWith(marker: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (/^\d+$/.test(entry)) {
      const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(
        () => '',
      );
      if (cmdline.includes(marker)) {
        pids.push(Number(entry));
      }
    }
  }
  return pids;
}

describe('the sealed runner, attacked', () => {
  let root: IsolatedRoot;
  let backend: BackendProcess;
  let erin: GateClient;
  let pat: GateClient;
  let canary: string;

  /** Plans payments/dev at `branch`, whose folder gets `files`, and returns the finished run. */
  async function planBranch(branch: string, files: Record<string, string>) {
    await pushBranch(root.demo.infrastructureLiveUrl, branch, files);
    const { status, body } = await erin.plan(PAYMENTS, 'dev', branch);
    expect(status).toBe(202);
    return erin.waitForRun(body.run.id);
  }

  beforeAll(async () => {
    root = await createIsolatedRoot();
    canary = await mkdtemp(join(tmpdir(), 'sealed-runner-canary-'));
    backend = await BackendProcess.start({
      root,
      config: {
        sealedRunner: {
          environments: {
            // dev as a permissive sandbox-like environment: code may run,
            // and the backend types of the attacks are allowed — only their
            // configuration keys are not.
            dev: {
              planPolicy: {
                allowCodeExecution: true,
                backends: ['kubernetes', 's3'],
              },
            },
          },
        },
      },
    });
    erin = await GateClient.as(backend.baseUrl, 'guest');
    pat = await GateClient.as(backend.baseUrl, 'demo-approver');
    await erin.waitForTargets(PAYMENTS);
  });

  afterAll(async () => {
    await backend?.stop();
    await root?.cleanup();
    await rm(canary, { recursive: true, force: true });
  });

  describe('commands through terraform_remote_state and backend credentials', () => {
    const kubeconfig = (marker: string) => `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
users:
- name: u
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: sh
      args: ["-c", "touch ${canary}/${marker}; terraform -chdir=/ apply -auto-approve"]
`;

    it.each([
      [
        'a kubeconfig with an exec plugin, read at plan time',
        'attack/kubeconfig-exec',
        {
          'live/dev/payments/kubeconfig': kubeconfig('kubeconfig-plan'),
          'live/dev/payments/steal.tf': `data "terraform_remote_state" "prod" {
  backend = "kubernetes"
  config = {
    config_path   = "\${path.module}/kubeconfig"
    secret_suffix = "prod"
  }
}
`,
        },
        /live\/dev\/payments\/steal\.tf:\d+: data "terraform_remote_state" "prod": key "config_path" is not allowed for backend "kubernetes"/,
      ],
      [
        'the same, deferred to apply by depending on a resource',
        'attack/kubeconfig-deferred',
        {
          'live/dev/payments/kubeconfig': kubeconfig('kubeconfig-apply'),
          'live/dev/payments/steal.tf': `resource "terraform_data" "first" {}
data "terraform_remote_state" "prod" {
  depends_on = [terraform_data.first]
  backend    = "kubernetes"
  config = {
    config_path   = "./kubeconfig"
    secret_suffix = "prod"
  }
}
`,
        },
        /steal\.tf:\d+: data "terraform_remote_state" "prod": key "config_path" is not allowed/,
      ],
      [
        "the s3 backend's shared config with a credential_process",
        'attack/credential-process',
        {
          'live/dev/payments/aws-config': `[profile x]\ncredential_process = sh -c "touch ${canary}/credential-process"\n`,
          'live/dev/payments/steal.tf': `data "terraform_remote_state" "prod" {
  backend = "s3"
  config = {
    bucket              = "state"
    key                 = "prod/terraform.tfstate"
    region              = "eu-west-1"
    profile             = "x"
    shared_config_files = ["\${path.module}/aws-config"]
  }
}
`,
        },
        /steal\.tf:\d+: data "terraform_remote_state" "prod": key "profile" is not allowed for backend "s3".* \(and 1 more finding\)$/,
      ],
      [
        'a root backend block that names a kubeconfig',
        'attack/backend-kubeconfig',
        {
          'live/dev/payments/kubeconfig': kubeconfig('backend-block'),
          'live/dev/payments/backend.tf': `terraform {
  backend "kubernetes" {
    secret_suffix = "payments"
    config_path   = "./kubeconfig"
  }
}
`,
        },
        /backend\.tf:\d+: terraform backend "kubernetes": key "config_path" is not allowed/,
      ],
      [
        'a file function reading outside the module',
        'attack/file-function',
        {
          'live/dev/payments/steal.tf': `output "x" {\n  value = file("${'${path.module}'}/../../../../.sealed-runner/db/x")\n}\n`,
        },
        /steal\.tf:\d+: file\(.*\) reads outside the module's own folder/,
      ],
    ])(
      'refuses %s before terraform init, and nothing runs',
      async (_, branch, files, reason) => {
        const run = await planBranch(branch, files);
        expect(run.status).toBe('rejected');
        expect(run.error).toMatch(reason);
        const logs = await erin.logs(run.id);
        expect(logs.some(l => l.includes('Initializing'))).toBe(false);
        expect(await readdir(canary)).toEqual([]);
      },
    );
  });

  describe('code that runs anyway reaches nothing it was not given', () => {
    let planned: { id: string };
    let applied: { id: string; status: string; error?: string };
    let before: {
      plans: Record<string, string>;
      state: Record<string, string>;
    };
    const MARKER = 'sealed-runner-escape-31.731';

    it('plans and applies a local-exec that attacks the runner from inside', async () => {
      // Something to steal and to swap: a prod plan and prod's state.
      const prod = await erin.plan(PAYMENTS, 'prod');
      const prodPlan = await erin.waitForRun(prod.body.run.id);
      expect(prodPlan.status).toBe('succeeded');
      before = {
        plans: await fingerprint(join(root.runnerDir, 'plans')),
        state: await fingerprint(join(root.runnerDir, 'state')),
      };
      const script = `
set +e
say() { echo "probe: $1"; }
for f in ${root.runnerDir}/plans/prod/* ${
        root.runnerDir
      }/state/*/terraform.tfstate ${root.root}/.sealed-runner/db/* ${
        root.root
      }/app-config.yaml; do
  if cat "$f" > /dev/null 2>&1; then say "READ $f"; else say "no-read $f"; fi
done
if touch ${canary}/outside 2>/dev/null; then say "WROTE outside"; else say "no-write outside"; fi
if cp /dev/null ${
        root.runnerDir
      }/plans/prod/swapped.tfplan 2>/dev/null; then say "SWAPPED"; else say "no-swap"; fi
for fd in /proc/self/fd/*; do echo '${FORGED_RESULT}' > "$fd" 2>/dev/null; done
for p in /proc/[0-9]*; do echo '${FORGED_RESULT}' > "$p/fd/1" 2>/dev/null; done
if grep -l "bin/[s]ealed-runner" /proc/[0-9]*/cmdline > /dev/null 2>&1; then say "SEES the runner"; else say "no-runner in sight"; fi
if grep -l "[S]EALED_RUNNER_CONFIG" /proc/[0-9]*/environ > /dev/null 2>&1; then say "SEES the runner config"; else say "no-config in sight"; fi
setsid sh -c 'exec sleep ${MARKER.split(
        '-',
      ).pop()}' > /dev/null 2>&1 < /dev/null &
say done
`;
      const run = await planBranch('attack/sandbox', {
        'live/dev/payments/attack.tf': `resource "terraform_data" "attack" {
  provisioner "local-exec" {
    command = <<-EOT
${script
  .trim()
  .split('\n')
  .map(line => `      ${line.replace(/\$\{/g, '$${')}`)
  .join('\n')}
    EOT
  }
}
`,
      });
      expect(run.status).toBe('succeeded');
      planned = run;
      const apply = await erin.request('POST', `/runs/${planned.id}/apply`);
      expect(apply.status).toBe(202);
      applied = await erin.waitForRun(apply.body.run.id);
    });

    it("records Terraform's real result, not the forged one", async () => {
      expect(applied).toMatchObject({ status: 'succeeded' });
      const logs = await erin.logs(applied.id);
      const plan = (await erin.run(planned.id)).plan!;
      expect(plan.add).toBeGreaterThan(0);
      expect(logs).toContainEqual(
        `Apply complete! Resources: ${plan.add} added, ${plan.change} changed, ${plan.destroy} destroyed.`,
      );
      // The forged result reached only Terraform's own output: a log line.
      expect(logs.some(l => l.includes('"type":"result"'))).toBe(true);
      expect(applied).not.toHaveProperty('planSha256');
    });

    it('could read none of the runner, write outside its run, swap a plan, or see the runner', async () => {
      const logs = (await erin.logs(applied.id)).filter(l =>
        l.includes('probe: '),
      );
      expect(logs).toContainEqual(expect.stringContaining('probe: done'));
      expect(
        logs.filter(l => /probe: (READ|WROTE|SWAPPED|SEES)/.test(l)),
      ).toEqual([]);
      expect(logs).toContainEqual(
        expect.stringContaining('probe: no-runner in sight'),
      );
      expect(existsSync(join(canary, 'outside'))).toBe(false);
      expect(await fingerprint(join(root.runnerDir, 'plans'))).toEqual(
        expect.objectContaining(before.plans),
      );
      expect(
        Object.keys(await fingerprint(join(root.runnerDir, 'plans'))),
      ).not.toContainEqual(expect.stringContaining('swapped'));
      // prod's state is as it was; only dev's own state changed.
      const state = await fingerprint(join(root.runnerDir, 'state'));
      const changed = Object.keys(state).filter(
        path => before.state[path] && before.state[path] !== state[path],
      );
      expect(changed).toEqual([]);
    });

    it('left no process behind, setsid or not', async () => {
      expect(await processesWith(MARKER.split('-').pop()!)).toEqual([]);
    });
  });

  describe('one folder, one owner', () => {
    let prodPlan: string;

    it("keeps a shadow entity registered from a feature branch out of the catalog, and payments' approved plan applies", async () => {
      const plan = await erin.plan(PAYMENTS, 'prod');
      prodPlan = (await erin.waitForRun(plan.body.run.id)).id;
      expect(
        (await pat.request('POST', `/runs/${prodPlan}/approve`)).status,
      ).toBe(200);

      const entity = (
        name: string,
        folder: string,
      ) => `apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: ${name}
  annotations:
    sealed-runner.io/repository: ${root.demo.infrastructureLiveUrl}
    sealed-runner.io/target.prod: ${folder}
spec:
  type: service
  lifecycle: experimental
  owner: group:default/payments-team
`;
      await pushBranch(root.demo.infrastructureLiveUrl, 'feature/shadow', {
        'catalog/shadow.yaml': `${entity(
          'erin-shadow',
          'live/prod/payments',
        )}---\n${entity('erin-own', 'live/prod/erin-own')}`,
      });
      const registered = await fetch(
        `${backend.baseUrl}/api/catalog/locations`,
        {
          method: 'POST',
          headers: {
            Authorization: `Bearer ${erin.token}`,
            'Content-Type': 'application/json',
          },
          body: JSON.stringify({
            type: 'url',
            target: `${root.demo.infrastructureLiveUrl}?ref=feature/shadow&path=catalog/shadow.yaml`,
          }),
        },
      );
      expect(registered.status).toBe(201);
      // Its sibling from the same file makes it in: the file was processed.
      await erin.waitForTargets('component:default/erin-own', 90_000);
      const shadow = await erin.request(
        'GET',
        '/targets?entityRef=component:default/erin-shadow',
      );
      expect(shadow.status).toBe(404);
      expect(
        (await erin.plan('component:default/erin-shadow', 'prod')).status,
      ).toBe(404);

      const apply = await erin.request('POST', `/runs/${prodPlan}/apply`);
      expect(apply.status).toBe(202);
      expect((await erin.waitForRun(apply.body.run.id)).status).toBe(
        'succeeded',
      );
    });
  });

  describe('vetted versions are commits', () => {
    it('refuses a plan after the vetted tag was force-moved, naming the tag and both commits', async () => {
      const first = await erin.plan(PAYMENTS, 'dev');
      expect((await erin.waitForRun(first.body.run.id)).status).toBe(
        'succeeded',
      );
      const catalog = root.demo.serviceCatalogUrl.slice('file://'.length);
      const vetted = fixtureGit(catalog, 'rev-parse', 'v1.1.0^{commit}');

      const work = await mkdtemp(join(tmpdir(), 'sealed-runner-moved-tag-'));
      try {
        fixtureGit(work, 'clone', '--quiet', catalog, '.');
        await writeFile(
          join(work, 'modules/web-service/smuggled.tf'),
          'resource "terraform_data" "smuggled" {\n  input = "not vetted"\n}\n',
        );
        fixtureGit(work, 'add', '--all');
        fixtureGit(work, 'commit', '--quiet', '--message', 'smuggle');
        fixtureGit(work, 'tag', '--force', 'v1.1.0');
        fixtureGit(
          work,
          'push',
          '--quiet',
          '--force',
          'origin',
          'refs/tags/v1.1.0',
        );
        const moved = fixtureGit(work, 'rev-parse', 'HEAD');

        const next = await erin.plan(PAYMENTS, 'dev');
        const run = await erin.waitForRun(next.body.run.id);
        expect(run.status).toBe('rejected');
        expect(run.error).toBe(
          `module.payments: "${root.demo.moduleSource}" tag "v1.1.0" is now commit ${moved}, but it was vetted as commit ${vetted}; the tag was moved (vet the new commit in the module's catalog entity to use it)`,
        );
        const modules = await erin.request(
          'GET',
          `/modules?entityRef=${PAYMENTS}`,
        );
        expect(modules.body.items).toContainEqual(
          expect.objectContaining({
            environment: 'dev',
            version: 'v1.1.0',
            pinnedCommit: vetted,
          }),
        );
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    });
  });
});
