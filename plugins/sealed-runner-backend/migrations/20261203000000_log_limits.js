// @ts-check

/**
 * What a run's log holds, so the per-run limit is checked without reading
 * the log back: its size in bytes, and whether the limit cut it.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.alterTable('runs', table => {
    table.bigInteger('log_bytes').notNullable().defaultTo(0);
    table.boolean('log_truncated').notNullable().defaultTo(false);
  });
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  await knex.schema.alterTable('runs', table => {
    table.dropColumn('log_bytes');
    table.dropColumn('log_truncated');
  });
};
