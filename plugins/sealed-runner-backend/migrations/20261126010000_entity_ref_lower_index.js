// @ts-check

/**
 * Runs are looked up by entity ref case-insensitively, as Backstage
 * compares entity refs: index the lower-cased ref.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.raw(
    'CREATE INDEX runs_target_lower_idx ON runs (LOWER(entity_ref), environment, created_at)',
  );
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  await knex.schema.raw('DROP INDEX runs_target_lower_idx');
};
