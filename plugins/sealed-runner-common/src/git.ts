import { checkRepositoryUrl } from './validation';

/**
 * Options that make git ignore everything but what we pass: no hooks, no
 * fsmonitor, no redirects, no submodules, and symlinks checked out as plain
 * files so nothing in a checkout can point outside it. The runner and every
 * backend module that runs git use them.
 *
 * @public
 */
export const GIT_HARDENING_OPTIONS: readonly string[] = [
  '-c',
  'core.hooksPath=/dev/null',
  '-c',
  'core.fsmonitor=false',
  '-c',
  'core.symlinks=false',
  '-c',
  'http.followRedirects=false',
  '-c',
  'submodule.recurse=false',
  '-c',
  'protocol.version=2',
  '-c',
  'credential.helper=',
];

/**
 * Transport names as GIT_ALLOW_PROTOCOL spells them.
 *
 * @public
 */
export function gitProtocolsFor(urls: readonly string[]): string {
  const protocols = new Set<string>();
  for (const url of urls) {
    const repo = checkRepositoryUrl(url);
    if (repo.ok) {
      protocols.add(repo.value.transport);
    }
  }
  return [...protocols].sort().join(':');
}

/**
 * The environment for git (and for Terraform's own git module downloads):
 * no system or global config, no prompts, and only the transports of the
 * given URLs. `ext::`, `fd::` and everything else stay disabled.
 *
 * @public
 */
export function gitEnvironment(
  home: string,
  urls: readonly string[],
  path: string,
  globalConfig = '/dev/null',
): Record<string, string> {
  return {
    PATH: path,
    HOME: home,
    LANG: 'C.UTF-8',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: globalConfig,
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: '/bin/false',
    SSH_ASKPASS: '/bin/false',
    GIT_ALLOW_PROTOCOL: gitProtocolsFor(urls) || 'none',
    GIT_PROTOCOL_FROM_USER: '0',
  };
}

/**
 * A global git config of the runner's own (`GIT_CONFIG_GLOBAL`), for the
 * git commands a sandbox runs — its own and those Terraform starts to
 * download modules, which take no `-c` options: the same hardening as
 * {@link GIT_HARDENING_OPTIONS}, and `safe.directory` for the local
 * repositories mounted into the sandbox (owned by another user there; git
 * honours safe.directory only from protected config, and drops `-c` and
 * GIT_CONFIG_COUNT for a local clone's upload-pack).
 *
 * @public
 */
export function gitGlobalConfig(safeDirectories: readonly string[]): string {
  const lines = [
    '[core]',
    '\thooksPath = /dev/null',
    '\tfsmonitor = false',
    '\tsymlinks = false',
    '[http]',
    '\tfollowRedirects = false',
    '[submodule]',
    '\trecurse = false',
    '[protocol]',
    '\tversion = 2',
    '[credential]',
    '\thelper =',
    ...safeDirectories.flatMap(dir => [
      '[safe]',
      `\tdirectory = ${JSON.stringify(dir)}`,
    ]),
  ];
  return `${lines.join('\n')}\n`;
}
