import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  CatalogModule,
  parseModuleSource,
  PlanPolicy,
  planPolicySchema,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import {
  addInstalledModules,
  loadModuleGraph,
  ModuleGraph,
} from '../moduleGraph';
import { Finding, InspectionContext } from '../types';

export const CATALOG =
  'git::https://git.example.com/platform/service-catalog.git';
export const WEB = `${CATALOG}//modules/web-service`;
export const VETTED = `${WEB}?ref=v1.1.0`;
export const UNVETTED = `${WEB}?ref=v2.0.0-rc1`;
export const DB = `${CATALOG}//modules/database`;
export const VETTED_DB = `${DB}?ref=v3.0.0`;

/** The commits the vetted tags were pinned to when they were vetted. */
export const WEB_V1_1_0 = '1111111111111111111111111111111111111111';
export const WEB_V1_0_0 = '1000000000000000000000000000000000000000';
export const DB_V3_0_0 = '3333333333333333333333333333333333333333';
/** What a moved tag points at now. */
export const MOVED = 'badbadbadbadbadbadbadbadbadbadbadbadbad0';

export const CATALOG_MODULES: CatalogModule[] = [
  {
    source: WEB,
    versions: ['v1.0.0', 'v1.1.0'],
    commits: { 'v1.0.0': WEB_V1_0_0, 'v1.1.0': WEB_V1_1_0 },
  },
  { source: DB, versions: ['v3.0.0'], commits: { 'v3.0.0': DB_V3_0_0 } },
];

export const AWS = 'registry.terraform.io/hashicorp/aws';
export const GOOGLE = 'registry.terraform.io/hashicorp/google';
export const KUBERNETES = 'registry.terraform.io/hashicorp/kubernetes';
export const HELM = 'registry.terraform.io/hashicorp/helm';
export const EXTERNAL = 'registry.terraform.io/hashicorp/external';
export const NULL = 'registry.terraform.io/hashicorp/null';

/** A plan policy as the runner's configuration schema completes it. */
function policyOf(policy: Partial<PlanPolicy> = {}): PlanPolicy {
  return planPolicySchema.parse(policy);
}

export function contextOf(
  policy: Partial<PlanPolicy> = {},
  options: { environment?: string; modules?: CatalogModule[] } = {},
): InspectionContext {
  return {
    environment: options.environment ?? 'prod',
    policy: policyOf(policy),
    modules: options.modules ?? CATALOG_MODULES,
  };
}

export const reasonsOf = (findings: Finding[]) => findings.map(f => f.reason);

export const json = (value: unknown) => JSON.stringify(value, null, 2);

export async function writeFiles(dir: string, files: Record<string, string>) {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
}

/** Files of the target folder `app`, by name: `{ 'main.tf': … }` → `app/main.tf`. */
export function inApp(files: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(files).map(([name, text]) => [`app/${name}`, text]),
  );
}

/** A checkout and an empty Terraform data directory beside it, as the runner lays them out. */
export interface Workspace {
  checkoutDir: string;
  dataDir: string;
  /** A folder outside both, for symlinks to point at. */
  outsideDir: string;
}

/**
 * Registers a temporary folder for the test file and returns a function
 * that makes a fresh workspace in it for each call.
 */
export function temporaryWorkspaces(): (
  files?: Record<string, string>,
) => Promise<Workspace> {
  let root: string;
  let count = 0;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'sealed-runner-inspection-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });
  return async (files = {}) => {
    count += 1;
    const run = join(root, `run-${count}`);
    const workspace = {
      checkoutDir: join(run, 'checkout'),
      dataDir: join(run, 'terraform-data'),
      outsideDir: join(run, 'outside'),
    };
    await mkdir(workspace.checkoutDir, { recursive: true });
    await mkdir(workspace.dataDir, { recursive: true });
    await mkdir(workspace.outsideDir, { recursive: true });
    await writeFile(join(workspace.outsideDir, 'secret.txt'), 'secret\n');
    await writeFiles(workspace.checkoutDir, files);
    return workspace;
  };
}

/** One module `terraform init` downloaded: its files, and the commit of its clone. */
interface DownloadedModule {
  key: string;
  source: string;
  files: Record<string, string>;
  /**
   * Written to the clone's `.git/HEAD`; by default the commit its tag was
   * vetted at. null: a copy Terraform made of another clone (no `.git`).
   */
  head?: string | null;
}

/** The commit the catalog pins a source's tag to. */
function pinnedCommit(source: string): string | undefined {
  const parsed = parseModuleSource(source);
  if (!parsed.ok || parsed.value.ref === undefined) {
    return undefined;
  }
  return CATALOG_MODULES.find(m => m.source === parsed.value.base)?.commits?.[
    parsed.value.ref
  ];
}

/** Where `terraform init` puts a downloaded module: the clone's subdirectory. */
export function downloadedDir(
  dataDir: string,
  key: string,
  source: string,
): string {
  const parsed = parseModuleSource(source);
  const subdir = parsed.ok ? parsed.value.subdir : undefined;
  return join(dataDir, 'modules', key, ...(subdir ? [subdir] : []));
}

/**
 * What `terraform init` leaves in the data directory: each downloaded
 * module's clone under `modules/<key>` (the module in its subdirectory,
 * the commit in `.git/HEAD`) and `modules/modules.json` listing them, the
 * root module first.
 */
export async function terraformInit(
  dataDir: string,
  downloaded: DownloadedModule[],
  extraEntries: Array<{ Key: string; Source: string; Dir: string }> = [],
) {
  await mkdir(join(dataDir, 'modules'), { recursive: true });
  for (const { key, source, files, head } of downloaded) {
    const dir = downloadedDir(dataDir, key, source);
    await mkdir(dir, { recursive: true });
    await writeFiles(dir, files);
    if (head !== null) {
      await writeFiles(join(dataDir, 'modules', key), {
        '.git/HEAD': `${head ?? pinnedCommit(source) ?? WEB_V1_1_0}\n`,
      });
    }
  }
  await writeFile(
    join(dataDir, 'modules', 'modules.json'),
    JSON.stringify({
      Modules: [
        { Key: '', Source: '', Dir: '.' },
        ...downloaded.map(({ key, source }) => ({
          Key: key,
          Source: source,
          Dir: downloadedDir(dataDir, key, source),
        })),
        ...extraEntries,
      ],
    }),
  );
}

/** The module graph of a folder before `terraform init`; throws if the loader refuses it. */
export async function loadGraph(
  workspace: Workspace,
  folder = 'app',
): Promise<ModuleGraph> {
  const loaded = await loadModuleGraph({
    checkoutDir: workspace.checkoutDir,
    folder,
  });
  if (!loaded.ok) {
    throw new Error(`the loader refused: ${loaded.reason}`);
  }
  return loaded.value;
}

/** The module graph of a folder after `terraform init`; throws if the loader refuses it. */
export async function loadInstalledGraph(
  workspace: Workspace,
  folder = 'app',
): Promise<ModuleGraph> {
  const graph = await loadGraph(workspace, folder);
  const installed = await addInstalledModules(graph, {
    terraformDataDir: workspace.dataDir,
  });
  if (!installed.ok) {
    throw new Error(
      `the loader refused what terraform init installed: ${installed.reason}`,
    );
  }
  return installed.value;
}
