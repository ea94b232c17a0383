// @ts-check

/**
 * Break-glass sessions, the runs that used them, and on each run the
 * session it used.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.createTable('break_glass_sessions', table => {
    table.string('id', 36).primary();
    table.string('entity_ref', 300).notNullable();
    table.string('environment', 32).notNullable();
    table.string('opened_by', 300).notNullable();
    table.text('reason').notNullable();
    table.string('ticket', 128);
    table.string('opened_at', 30).notNullable();
    table.string('expires_at', 30).notNullable();
    table.string('closed_at', 30);
    table.string('closed_by', 300);
    table.string('close_reason', 16);
    table.text('close_note');
    // `<lower-cased entity ref>#<environment>` while the session is not
    // closed, NULL after: at most one open session per target, as a unique
    // key, so the rule holds across every backend replica. (Both SQLite and
    // PostgreSQL allow many NULLs in a unique column.)
    table
      .string('open_target', 340)
      .unique('break_glass_sessions_open_target_key');
    table.index(['opened_at'], 'break_glass_sessions_opened_at_idx');
    table.index(['expires_at'], 'break_glass_sessions_expires_at_idx');
  });
  await knex.schema.raw(
    'CREATE INDEX break_glass_sessions_target_idx ON break_glass_sessions (LOWER(entity_ref), environment, opened_at)',
  );

  await knex.schema.createTable('break_glass_uses', table => {
    table
      .string('session_id', 36)
      .notNullable()
      .references('id')
      .inTable('break_glass_sessions');
    table.string('run_id', 36).notNullable().references('id').inTable('runs');
    table.string('operation', 8).notNullable();
    table.string('at', 30).notNullable();
    /** JSON array of the rules the run bypassed. */
    table.text('bypassed').notNullable();
    table.primary(['session_id', 'run_id']);
  });

  await knex.schema.alterTable('runs', table => {
    /** JSON `{ sessionId, openedBy, reason }` of the session an apply used. */
    table.text('break_glass');
  });
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  await knex.schema.alterTable('runs', table => {
    table.dropColumn('break_glass');
  });
  await knex.schema.dropTable('break_glass_uses');
  await knex.schema.dropTable('break_glass_sessions');
};
