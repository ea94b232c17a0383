/**
 * The PATH of every command the suite starts (git, Terraform, the runner):
 * the system's own directories, never the caller's PATH, so a directory
 * someone put first cannot supply a `git` of its own.
 *
 * @public
 */
export const SYSTEM_PATH = '/usr/local/bin:/usr/bin:/bin';
