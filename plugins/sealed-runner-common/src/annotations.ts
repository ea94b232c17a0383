/**
 * Catalog annotation names of the sealed-runner model. Every package imports
 * these from here so the model has one definition.
 */

/**
 * Git URL of the infrastructure-live repository a deployable entity lives in.
 *
 * @public
 */
export const ANNOTATION_REPOSITORY = 'sealed-runner.io/repository';

/**
 * Prefix of per-environment target annotations:
 * `sealed-runner.io/target.<environment>: <folder in the repository>`.
 *
 * @public
 */
export const ANNOTATION_TARGET_PREFIX = 'sealed-runner.io/target.';

/**
 * Module source address (without `?ref=`) of a service-catalog module.
 *
 * @public
 */
export const ANNOTATION_MODULE_SOURCE = 'sealed-runner.io/module-source';

/**
 * Comma-separated vetted git tags of a service-catalog module.
 *
 * @public
 */
export const ANNOTATION_MODULE_VERSIONS = 'sealed-runner.io/module-versions';

/**
 * `spec.type` of Component entities that are service-catalog modules.
 *
 * @public
 */
export const MODULE_ENTITY_SPEC_TYPE = 'terraform-module';
