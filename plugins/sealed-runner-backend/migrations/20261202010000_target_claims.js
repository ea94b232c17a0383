// @ts-check

/**
 * Which entity a target — one folder of one repository in one environment
 * (its lock key) — belongs to. The first deployable entity the gate sees
 * with the target owns it; another entity claiming the same folder is not
 * deployable while the owner still declares it.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.createTable('target_claims', table => {
    table.string('lock_key', 64).primary();
    table.string('entity_ref', 300).notNullable();
    table.string('environment', 32).notNullable();
    // The repository's identity (host and path, lower case), for listing.
    table.string('repository', 2100).notNullable();
    table.string('path', 512).notNullable();
    table.string('claimed_at', 30).notNullable();
    table.index(['repository'], 'target_claims_repository_idx');
  });
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  await knex.schema.dropTable('target_claims');
};
