import { constants } from 'node:fs';
import { lstat, open, readdir, realpath } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import {
  Checked,
  checkCommitSha,
  isLocalModuleSource,
  parseModuleSource,
  resolveLocalModulePath,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { z } from 'zod';
import { classifyPathArgument, templateCalls } from './expressions';
import { q } from './locate';
import {
  isObject,
  labelledBlocks,
  parseStrictJson,
  parseTerraformFile,
  TerraformBody,
  TerraformFile,
} from './terraformFiles';

/** Bounds that keep a hostile repository from exhausting the runner. */
export const MAX_FOLDERS = 200;
export const MAX_FILES_PER_FOLDER = 500;
export const MAX_FILE_BYTES = 1024 * 1024;
/** Entries (files and folders, at any depth) indexed per module folder. */
export const MAX_ENTRIES_PER_FOLDER = 5000;
const MAX_INDEX_DEPTH = 32;
const MAX_TEMPLATES_PER_FOLDER = 100;
const MAX_MODULES_JSON_BYTES = 4 * 1024 * 1024;

/** What an entry of a module folder is, as `lstat` sees it. */
export type EntryType = 'file' | 'folder' | 'symlink' | 'other';

/** One module folder Terraform loads, read once. */
export interface LoadedModule {
  /** Where it came from: the checkout (the target folder and local modules), or `terraform init`. */
  origin: 'checkout' | 'installed';
  /** The target folder itself: Terraform's working directory and root module. */
  isRoot: boolean;
  /** Real path on this machine. */
  dir: string;
  /** How reasons name the folder: its path in the checkout, or `.terraform/modules/…`. */
  shownDir: string;
  /** For installed modules: ` in module.<key>`, appended to constructs in reasons. */
  context: string;
  /** For installed modules: the `modules.json` key and source. */
  key?: string;
  source?: string;
  /**
   * For installed catalog modules: the commit `terraform init` checked out
   * (its clone's HEAD, or that of the clone it copied the same source from).
   */
  commitSha?: string;
  /** Why the commit could not be read, if it could not. */
  commitProblem?: string;
  files: TerraformFile[];
  /** Every entry below the folder, by path relative to it (`.git` is indexed, not entered). */
  entries: ReadonlyMap<string, EntryType>;
  /** Templates its `templatefile` calls name literally, by path relative to the folder. */
  templates: ReadonlyMap<string, string>;
}

/**
 * Everything the inspection judges, read once with the size and
 * "stays in the checkout" limits: the target folder, the local modules it
 * calls and, after `terraform init`, the modules init installed and the
 * providers it selected.
 */
export interface ModuleGraph {
  /** Real path of the checkout. */
  checkoutDir: string;
  /** The target folder, relative to the checkout. */
  folder: string;
  modules: LoadedModule[];
  /** Whether the modules `terraform init` installed are part of the graph. */
  installed: boolean;
  /** `.terraform.lock.hcl` as `terraform init` left it. */
  lockFile?: TerraformFile;
}

function within(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir + sep);
}

const refuse = <T>(reason: string): Checked<T> => ({ ok: false, reason });

/**
 * Reads a file with `O_NOFOLLOW`, refusing anything but a bounded regular
 * file: a symlink planted where a file is expected is never followed.
 * Undefined if nothing is there.
 */
export async function readRegularFile(
  path: string,
  limit: number,
): Promise<Checked<Buffer> | undefined> {
  let handle;
  try {
    handle = await open(
      path,
      constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK,
    );
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      return undefined;
    }
    return refuse(
      code === 'ELOOP' ? 'is a symlink' : `could not be read (${code})`,
    );
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) {
      return refuse('is not a regular file');
    }
    if (info.size > limit) {
      return refuse(`is larger than ${limit} bytes`);
    }
    const bytes = Buffer.alloc(info.size);
    const { bytesRead } = await handle.read(bytes, 0, info.size, 0);
    return { ok: true, value: bytes.subarray(0, bytesRead) };
  } finally {
    await handle.close();
  }
}

/** Lists every entry below `dir` with `lstat` types, bounded; `.git` is listed but not entered. */
async function indexFolder(
  dir: string,
  shownDir: string,
): Promise<Checked<Map<string, EntryType>>> {
  const entries = new Map<string, EntryType>();
  const walk = async (
    rel: string,
    depth: number,
  ): Promise<string | undefined> => {
    if (depth > MAX_INDEX_DEPTH) {
      return `${shownDir} is nested deeper than ${MAX_INDEX_DEPTH} folders`;
    }
    for (const entry of await readdir(join(dir, rel), {
      withFileTypes: true,
    })) {
      const path = rel === '' ? entry.name : `${rel}/${entry.name}`;
      let type: EntryType = 'other';
      if (entry.isSymbolicLink()) {
        type = 'symlink';
      } else if (entry.isFile()) {
        type = 'file';
      } else if (entry.isDirectory() && entry.name !== '.git') {
        type = 'folder';
      }
      entries.set(path, type);
      if (entries.size > MAX_ENTRIES_PER_FOLDER) {
        return `${shownDir} holds more than ${MAX_ENTRIES_PER_FOLDER} files and folders`;
      }
      if (type === 'folder') {
        const problem = await walk(path, depth + 1);
        if (problem) {
          return problem;
        }
      }
    }
    return undefined;
  };
  const problem = await walk('', 0);
  return problem ? refuse(problem) : { ok: true, value: entries };
}

/**
 * Reads and parses the Terraform files of one folder. A symlinked (or
 * otherwise irregular) Terraform file is refused: Terraform follows it
 * wherever it points, and an inspection would read something else.
 */
async function readTerraformFiles(
  dir: string,
  entries: ReadonlyMap<string, EntryType>,
  shown: (file: string) => string,
  shownDir: string,
): Promise<Checked<TerraformFile[]>> {
  const names = [...entries.keys()]
    .filter(
      name =>
        !name.includes('/') &&
        (name.endsWith('.tf') || name.endsWith('.tf.json')),
    )
    .filter(name => entries.get(name) !== 'folder')
    .sort();
  if (names.length > MAX_FILES_PER_FOLDER) {
    return refuse(
      `folder ${shownDir} has more than ${MAX_FILES_PER_FOLDER} Terraform files`,
    );
  }
  const files: TerraformFile[] = [];
  for (const name of names) {
    const bytes = await readRegularFile(join(dir, name), MAX_FILE_BYTES);
    if (!bytes?.ok) {
      return refuse(
        `${shown(name)} ${
          bytes ? bytes.reason : 'disappeared while it was read'
        }`,
      );
    }
    const text = bytes.value.toString('utf8');
    try {
      files.push({
        name,
        shown: shown(name),
        text,
        body: await parseTerraformFile(name, text),
      });
    } catch (error) {
      return refuse(
        `${shown(name)} could not be parsed: ${String(error).slice(0, 500)}`,
      );
    }
  }
  return { ok: true, value: files };
}

/**
 * Every string of a parsed body, keys included. `"//"` keys too: they are
 * comments only in a block body, while in an object value (`tags = { "//"
 * = file("/etc/passwd") }`, in HCL or JSON) Terraform evaluates them like
 * any other key — and the parsed body does not say which is which.
 */
export function* stringsOf(value: unknown): Generator<string> {
  if (typeof value === 'string') {
    yield value;
  } else if (Array.isArray(value)) {
    for (const item of value) {
      yield* stringsOf(item);
    }
  } else if (isObject(value)) {
    for (const [key, item] of Object.entries(value)) {
      yield key;
      yield* stringsOf(item);
    }
  }
}

/** The strings of `variable` blocks, without their `type`. */
function* withoutTypes(value: unknown, labels: number): Generator<string> {
  if (Array.isArray(value)) {
    for (const item of value) {
      yield* withoutTypes(item, labels);
    }
  } else if (!isObject(value)) {
    yield* stringsOf(value);
  } else {
    for (const [key, item] of Object.entries(value)) {
      if (labels === 0 && key === 'type') {
        continue;
      }
      yield key;
      yield* labels === 0 ? stringsOf(item) : withoutTypes(item, labels - 1);
    }
  }
}

/**
 * The strings of a file Terraform evaluates as templates and expressions:
 * all of them but a variable's `type`, a type constraint
 * (`list(object({…}))`) that calls no function (an `optional` default is
 * evaluated without functions).
 */
export function* expressionsOf(body: TerraformBody): Generator<string> {
  for (const [key, value] of Object.entries(body)) {
    yield key;
    yield* key === 'variable' ? withoutTypes(value, 1) : stringsOf(value);
  }
}

/**
 * Resolves a file function's literal path against a module folder: the
 * path relative to that folder, or undefined if it leaves it (an absolute
 * path, `..` out of it, `~`, or a root-relative path in a child module).
 */
export function resolveInModule(
  module: Pick<LoadedModule, 'isRoot'>,
  argument: { base: 'module' | 'root' | 'cwd'; path: string },
): string | undefined {
  if (argument.base !== 'module' && !module.isRoot) {
    return undefined;
  }
  const { path } = argument;
  if (
    isAbsolute(path) ||
    path.startsWith('~') ||
    path.includes('\\') ||
    path.includes('\0')
  ) {
    return undefined;
  }
  const stack: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') {
      continue;
    }
    if (segment === '..') {
      if (stack.length === 0) {
        return undefined;
      }
      stack.pop();
      continue;
    }
    stack.push(segment);
  }
  return stack.join('/');
}

/** The templates a module's `templatefile` calls name with a literal path in it. */
function templatePaths(
  module: Pick<LoadedModule, 'isRoot' | 'files'>,
): string[] {
  const paths = new Set<string>();
  for (const file of module.files) {
    for (const text of expressionsOf(file.body)) {
      const calls = templateCalls(text);
      for (const call of calls.ok ? calls.value : []) {
        if (call.name !== 'templatefile' || call.args.length === 0) {
          continue;
        }
        const argument = classifyPathArgument(call.args[0]);
        const path =
          argument.kind === 'literal'
            ? resolveInModule(module, argument)
            : undefined;
        if (path) {
          paths.add(path);
        }
      }
    }
  }
  return [...paths].sort();
}

/**
 * What `path` is in a module folder's index: `missing` if it is not there,
 * `symlink` or `other` if something on the way to it is not a plain folder.
 */
export function entryOf(
  entries: ReadonlyMap<string, EntryType>,
  path: string,
): EntryType | 'missing' {
  const segments = path.split('/');
  for (let i = 1; i < segments.length; i++) {
    const parent = entries.get(segments.slice(0, i).join('/'));
    if (parent === undefined) {
      return 'missing';
    }
    // A path below a file names nothing Terraform can read (it fails on
    // it); below a symlink it reads wherever the link points.
    if (parent !== 'folder') {
      return parent === 'symlink' ? 'symlink' : 'other';
    }
  }
  return path === '' ? 'folder' : entries.get(path) ?? 'missing';
}

async function readModuleFolder(
  dir: string,
  fields: Omit<LoadedModule, 'files' | 'entries' | 'templates' | 'dir'>,
): Promise<Checked<LoadedModule>> {
  const entries = await indexFolder(dir, fields.shownDir);
  if (!entries.ok) {
    return entries;
  }
  const shown = (file: string) =>
    fields.shownDir === '.' ? file : `${fields.shownDir}/${file}`;
  const files = await readTerraformFiles(
    dir,
    entries.value,
    shown,
    JSON.stringify(fields.shownDir),
  );
  if (!files.ok) {
    return files;
  }
  const module = { ...fields, dir, files: files.value, entries: entries.value };
  const templates = new Map<string, string>();
  for (const path of templatePaths(module).slice(0, MAX_TEMPLATES_PER_FOLDER)) {
    if (entryOf(entries.value, path) !== 'file') {
      continue; // the rule reports it
    }
    const bytes = await readRegularFile(join(dir, path), MAX_FILE_BYTES);
    if (!bytes?.ok) {
      return refuse(
        `${shown(path)} ${
          bytes ? bytes.reason : 'disappeared while it was read'
        }`,
      );
    }
    templates.set(path, bytes.value.toString('utf8'));
  }
  return { ok: true, value: { ...module, templates } };
}

/** The local module calls of a module: folders relative to the checkout. */
function localCalls(module: LoadedModule, relFolder: string): string[] {
  const folders: string[] = [];
  for (const file of module.files) {
    for (const { body } of labelledBlocks(file.body.module, 1)) {
      if (typeof body.source === 'string' && isLocalModuleSource(body.source)) {
        const local = resolveLocalModulePath(relFolder, body.source);
        if (local.ok) {
          folders.push(local.value);
        }
        // An unresolvable call is the module-source rule's finding.
      }
    }
  }
  return folders;
}

/**
 * Loads the target folder and every local module it calls, following local
 * calls through the checkout — what Terraform will read before `init`.
 */
export async function loadModuleGraph(options: {
  checkoutDir: string;
  folder: string;
}): Promise<Checked<ModuleGraph>> {
  const root = await realpath(options.checkoutDir);
  const graph: ModuleGraph = {
    checkoutDir: root,
    folder: options.folder,
    modules: [],
    installed: false,
  };
  const loaded = await addCheckoutFolders(graph, [options.folder]);
  return loaded.ok ? { ok: true, value: graph } : loaded;
}

async function addCheckoutFolders(
  graph: ModuleGraph,
  start: string[],
): Promise<Checked<true>> {
  const queue = [...start];
  while (queue.length > 0) {
    const current = queue.shift()!;
    const dir =
      current === '.' ? graph.checkoutDir : join(graph.checkoutDir, current);
    const info = await lstat(dir).catch(() => undefined);
    if (info?.isSymbolicLink()) {
      return refuse(`folder ${JSON.stringify(current)} is a symlink`);
    }
    if (!info?.isDirectory()) {
      return refuse(
        `folder ${JSON.stringify(current)} does not exist in the commit`,
      );
    }
    const real = await realpath(dir);
    if (!within(real, graph.checkoutDir)) {
      return refuse(`folder ${JSON.stringify(current)} leaves the checkout`);
    }
    // Terraform resolves local module paths (`../../shared`) and file paths
    // from where its working directory really is; they are resolved here
    // from the folder's path, so that path must be where it really is.
    if (current === graph.folder && real !== resolve(dir)) {
      return refuse(
        `folder ${JSON.stringify(current)} is reached through a symlink`,
      );
    }
    if (graph.modules.some(m => m.dir === real)) {
      continue;
    }
    if (graph.modules.length >= MAX_FOLDERS) {
      return refuse(`more than ${MAX_FOLDERS} module folders`);
    }
    const module = await readModuleFolder(real, {
      origin: 'checkout',
      isRoot: current === graph.folder,
      shownDir: current,
      context: '',
    });
    if (!module.ok) {
      return module;
    }
    graph.modules.push(module.value);
    queue.push(...localCalls(module.value, current));
  }
  return { ok: true, value: true };
}

/** What `terraform init` writes to `<TF_DATA_DIR>/modules/modules.json`. */
const modulesJsonSchema = z.object({
  Modules: z
    .array(
      z.object({ Key: z.string(), Source: z.string(), Dir: z.string().min(1) }),
    )
    .max(MAX_FOLDERS * 10),
});

/** Where Terraform's paths (inside the sandbox) are on this machine. */
export interface PathMapping {
  /** Absolute prefixes as Terraform saw them, and where they are here (relative `Dir`s resolve against the target folder). */
  prefixes: Array<{ inside: string; outside: string }>;
}

function mapPath(
  path: string,
  mapping: PathMapping,
  folderDir: string,
): string {
  if (!isAbsolute(path)) {
    return resolve(folderDir, path);
  }
  for (const { inside, outside } of mapping.prefixes) {
    if (path === inside || path.startsWith(`${inside}/`)) {
      return join(outside, path.slice(inside.length));
    }
  }
  return path;
}

/** The commit a clone's HEAD names, if it is a plain detached commit. */
async function cloneHead(
  cloneDir: string,
): Promise<Checked<string> | undefined> {
  const head = await readRegularFile(join(cloneDir, '.git', 'HEAD'), 1024);
  if (!head) {
    return undefined;
  }
  if (!head.ok) {
    return refuse(`its .git/HEAD ${head.reason}`);
  }
  const commit = checkCommitSha(head.value.toString('utf8').trim());
  return commit.ok ? commit : refuse('its .git/HEAD does not name a commit');
}

/**
 * Adds what `terraform init` installed: every module `modules.json` lists
 * (a directory outside the checkout and the downloaded modules is refused),
 * the commit of each downloaded git module, and the lock file.
 */
export async function addInstalledModules(
  graph: ModuleGraph,
  options: { terraformDataDir: string; mapping?: PathMapping },
): Promise<Checked<ModuleGraph>> {
  const folderDir = join(graph.checkoutDir, graph.folder);
  const mapping = options.mapping ?? { prefixes: [] };
  const modulesJson = await readRegularFile(
    join(options.terraformDataDir, 'modules', 'modules.json'),
    MAX_MODULES_JSON_BYTES,
  );
  if (modulesJson && !modulesJson.ok) {
    return refuse(
      `modules.json written by terraform init ${modulesJson.reason}`,
    );
  }
  let entries: z.infer<typeof modulesJsonSchema>['Modules'] = [];
  if (modulesJson) {
    try {
      entries = modulesJsonSchema.parse(
        parseStrictJson(modulesJson.value.toString('utf8')),
      ).Modules;
    } catch {
      return refuse('modules.json written by terraform init could not be read');
    }
  }
  const modulesRoot = await realpath(
    join(options.terraformDataDir, 'modules'),
  ).catch(() => undefined);
  const heads = new Map<string, Checked<string>>();
  const installed: Array<{ module: LoadedModule; source: string }> = [];
  for (const { Key: key, Source: source, Dir: moduleDir } of entries) {
    const name =
      key === '' ? 'the root module' : `module.${q(key).slice(1, -1)}`;
    const shownDir = q(moduleDir, 500);
    const real = await realpath(mapPath(moduleDir, mapping, folderDir)).catch(
      () => undefined,
    );
    if (real === undefined) {
      return refuse(
        `terraform init installed ${name} in ${shownDir}, which does not exist`,
      );
    }
    if (within(real, graph.checkoutDir)) {
      const added = await addCheckoutFolders(graph, [
        relative(graph.checkoutDir, real) || '.',
      ]);
      if (!added.ok) {
        return added;
      }
      continue;
    }
    if (!modulesRoot || !within(real, modulesRoot)) {
      return refuse(
        `terraform init installed ${name} in ${shownDir}, outside the checkout and the downloaded modules`,
      );
    }
    if (!(await lstat(real)).isDirectory()) {
      return refuse(
        `terraform init installed ${name} in ${shownDir}, which is not a folder`,
      );
    }
    if (graph.modules.some(m => m.dir === real)) {
      continue;
    }
    if (graph.modules.length >= MAX_FOLDERS) {
      return refuse(`more than ${MAX_FOLDERS} module folders`);
    }
    const module = await readModuleFolder(real, {
      origin: 'installed',
      isRoot: false,
      shownDir: `.terraform/modules/${relative(modulesRoot, real)}`,
      context: ` in ${name}`,
      key,
      source,
    });
    if (!module.ok) {
      return module;
    }
    graph.modules.push(module.value);
    // A git module is cloned whole; its folder is the clone's subdirectory.
    const parsed = parseModuleSource(source);
    if (parsed.ok) {
      const subdir = parsed.value.subdir;
      const cloneDir = subdir
        ? resolve(real, ...subdir.split('/').map(() => '..'))
        : real;
      const head = within(cloneDir, modulesRoot)
        ? await cloneHead(cloneDir)
        : undefined;
      // Two clones of one source at different commits (a tag moved while
      // init ran): neither commit stands for the source.
      const seen = heads.get(source);
      if (head && (!seen || (seen.ok && !head.ok))) {
        heads.set(source, head);
      } else if (head?.ok && seen?.ok && seen.value !== head.value) {
        heads.set(
          source,
          refuse(
            `it was cloned twice, at commits ${seen.value} and ${head.value}`,
          ),
        );
      }
      installed.push({ module: module.value, source });
    }
  }
  // Terraform copies a source it already downloaded instead of cloning it
  // again; the copy has no .git, and is the same commit as the clone.
  for (const { module, source } of installed) {
    const head = heads.get(source);
    if (head?.ok) {
      module.commitSha = head.value;
    } else {
      module.commitProblem = head
        ? head.reason
        : 'terraform init left no git clone of it';
    }
  }

  const lockShown =
    graph.folder === '.'
      ? '.terraform.lock.hcl'
      : `${graph.folder}/.terraform.lock.hcl`;
  const lock = await readRegularFile(
    join(folderDir, '.terraform.lock.hcl'),
    MAX_FILE_BYTES,
  );
  if (lock && !lock.ok) {
    return refuse(`${lockShown} ${lock.reason}`);
  }
  if (lock) {
    const text = lock.value.toString('utf8');
    let body: TerraformBody;
    try {
      body = await parseTerraformFile('.terraform.lock.hcl', text);
    } catch (error) {
      return refuse(
        `${lockShown} could not be parsed: ${String(error).slice(0, 500)}`,
      );
    }
    graph.lockFile = {
      name: '.terraform.lock.hcl',
      shown: lockShown,
      text,
      body,
    };
  }
  graph.installed = true;
  return { ok: true, value: graph };
}
