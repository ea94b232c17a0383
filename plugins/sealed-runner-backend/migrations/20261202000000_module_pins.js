// @ts-check

/**
 * The commit each vetted tag of a catalog module was vetted at. A tag can
 * be moved; the pin cannot, except by the platform team naming another
 * commit in the module entity's annotation.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.createTable('module_pins', table => {
    table.string('source', 2100).notNullable();
    table.string('tag', 256).notNullable();
    table.string('commit_sha', 40).notNullable();
    // 'catalog': named in the module entity; 'resolved': the tag's commit
    // when the gate first saw it vetted.
    table.string('origin', 16).notNullable();
    table.string('pinned_at', 30).notNullable();
    table.primary(['source', 'tag']);
  });
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  await knex.schema.dropTable('module_pins');
};
