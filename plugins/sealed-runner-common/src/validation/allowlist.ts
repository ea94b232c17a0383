import { accept, Checked, quote, refuse } from './checked';
import { checkRepositoryUrl } from './repository';

/**
 * Checks a repository URL against the platform team's allowlist. Entries
 * are exact URLs, or a prefix ending in `/*` that matches exactly one more
 * path segment (`https://github.com/acme/*`). Matching is on the checked URL
 * string, never on a normalised form an attacker could steer.
 *
 * @public
 */
export function checkRepositoryAllowed(
  url: unknown,
  allowlist: readonly string[],
): Checked<string> {
  const repo = checkRepositoryUrl(url);
  if (!repo.ok) {
    return repo;
  }
  const value = repo.value.url;
  for (const entry of allowlist) {
    if (entry === value) {
      return accept(value);
    }
    if (entry.endsWith('/*')) {
      const prefix = entry.slice(0, -1);
      const rest = value.slice(prefix.length);
      if (value.startsWith(prefix) && rest.length > 0 && !rest.includes('/')) {
        return accept(value);
      }
    }
  }
  return refuse(
    `repository ${quote(
      value,
    )} is not on the sealedRunner.repositories allowlist`,
  );
}
