/*
 * The frontend plugin's contribution to the app bundle: the demo app is
 * built twice, as shipped and with the sealed-runner plugin taken out of
 * its feature list and dependencies (in a throwaway copy), and the gzip sizes of all
 * emitted JavaScript and CSS are compared. Prints both totals and the
 * difference in kB (gzip), for the initial load and overall.
 *
 *   yarn bench:ui-bundle-size
 */
import { spawnSync } from 'node:child_process';
import {
  cp,
  mkdtemp,
  readdir,
  readFile,
  rm,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { createIsolatedRoot } from '../test/src';

const REPO_ROOT = join(__dirname, '..');
const APP = join(REPO_ROOT, 'packages/app');
const PLUGIN_IMPORT =
  "import sealedRunnerPlugin from '@sealed-runner/backstage-plugin-sealed-runner/alpha';\n";

function build(dir: string, config: string) {
  // The CLI itself, not through yarn: the copy is not a workspace.
  const cli = join(REPO_ROOT, 'node_modules/.bin/backstage-cli');
  const result = spawnSync(cli, ['package', 'build', '--config', config], {
    cwd: dir,
    env: { ...process.env, NODE_ENV: 'production' },
    encoding: 'utf8',
  });
  if (result.status !== 0) {
    throw new Error(
      `build in ${dir} failed:\n${result.stdout}\n${result.stderr}`.slice(
        -4000,
      ),
    );
  }
}

/** gzip bytes of every .js/.css under dist/static, and of those index.html loads. */
async function measure(
  dir: string,
): Promise<{ total: number; initial: number }> {
  const staticDir = join(dir, 'dist/static');
  const html = await readFile(join(dir, 'dist/index.html'), 'utf8');
  let total = 0;
  let initial = 0;
  for (const file of await readdir(staticDir)) {
    if (!/\.(js|css)$/.test(file)) continue;
    const size = gzipSync(await readFile(join(staticDir, file)), {
      level: 9,
    }).length;
    total += size;
    if (html.includes(file)) initial += size;
  }
  return { total, initial };
}

const kB = (bytes: number) => `${(bytes / 1024).toFixed(1)} kB`;

async function main() {
  // The demo's config (its include exists once the demo is prepared).
  const root = await createIsolatedRoot();
  const config = join(root.root, 'app-config.yaml');
  // The copy sits inside the app package so it resolves the same node_modules.
  const baseline = await mkdtemp(join(APP, '.bench-baseline-'));
  try {
    for (const entry of ['package.json', 'public', 'src']) {
      await cp(join(APP, entry), join(baseline, entry), { recursive: true });
    }
    const appTsx = join(baseline, 'src/App.tsx');
    const source = await readFile(appTsx, 'utf8');
    if (
      !source.includes(PLUGIN_IMPORT) ||
      !source.includes('sealedRunnerPlugin, ')
    ) {
      throw new Error(
        'packages/app/src/App.tsx no longer adds the plugin as this bench expects',
      );
    }
    await writeFile(
      appTsx,
      source.replace(PLUGIN_IMPORT, '').replace('sealedRunnerPlugin, ', ''),
    );
    // `app.packages: all` also discovers plugins from the app's dependencies.
    const manifest = JSON.parse(
      await readFile(join(baseline, 'package.json'), 'utf8'),
    );
    delete manifest.dependencies[
      '@sealed-runner/backstage-plugin-sealed-runner'
    ];
    await writeFile(
      join(baseline, 'package.json'),
      JSON.stringify(manifest, null, 2),
    );
    build(APP, config);
    build(baseline, config);
    const withPlugin = await measure(APP);
    const without = await measure(baseline);
    console.log(
      `app with the plugin:    ${kB(withPlugin.total)} gzip (initial load ${kB(
        withPlugin.initial,
      )})`,
    );
    console.log(
      `app without the plugin: ${kB(without.total)} gzip (initial load ${kB(
        without.initial,
      )})`,
    );
    console.log(
      `the plugin adds ${kB(
        withPlugin.total - without.total,
      )} gzip in total, ${kB(
        withPlugin.initial - without.initial,
      )} to the initial load`,
    );
  } finally {
    await rm(baseline, { recursive: true, force: true });
    await root.cleanup();
  }
}

main().catch(error => {
  console.error(error);
  process.exit(1);
});
