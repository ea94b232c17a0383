export type { Checked } from './checked';
export { hasControlCharacters, quote, showName, valueOf } from './checked';
export { checkRelativePath, MAX_PATH_LENGTH } from './paths';
export {
  checkBranchName,
  checkCommitSha,
  checkEnvironmentName,
  checkRefName,
  checkTagName,
  isApplyBranch,
  MAX_REF_LENGTH,
} from './refs';
export {
  checkRepositoryUrl,
  MAX_URL_LENGTH,
  repositoryIdentity,
} from './repository';
export type { RepositoryUrl } from './repository';
export {
  checkVettedModuleSource,
  isLocalModuleSource,
  MAX_MODULE_VERSIONS,
  parseCatalogModule,
  parseModuleSource,
  resolveLocalModulePath,
} from './moduleSource';
export type { ModuleSource } from './moduleSource';
export { checkRepositoryAllowed } from './allowlist';
export {
  BUILTIN_TERRAFORM_PROVIDER,
  checkProviderAddress,
  DEFAULT_PROVIDER_HOST,
  normaliseProviderSource,
} from './providerAddress';
