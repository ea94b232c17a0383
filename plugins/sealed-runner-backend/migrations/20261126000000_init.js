// @ts-check

/**
 * Runs, their logs, approvals and history, and one lock per target.
 * Timestamps are ISO 8601 UTC strings: they sort correctly as text and read
 * back identically on SQLite and PostgreSQL.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.createTable('runs', table => {
    table.string('id', 36).primary();
    table.string('entity_ref', 300).notNullable();
    table.string('environment', 32).notNullable();
    table.string('repository', 2048).notNullable();
    table.string('path', 512).notNullable();
    table.string('lock_key', 64).notNullable();
    table.string('operation', 8).notNullable();
    table.string('status', 16).notNullable();
    table.string('phase', 16);
    table.string('ref', 200).notNullable();
    table.string('commit_sha', 40).notNullable();
    table.string('requested_by', 300).notNullable();
    table.string('created_at', 30).notNullable();
    table.string('started_at', 30);
    table.string('finished_at', 30);
    table.string('plan_run_id', 36);
    table.string('superseded_by', 36);
    table.integer('plan_add');
    table.integer('plan_change');
    table.integer('plan_destroy');
    table.text('changes');
    table.string('plan_sha256', 64);
    table.text('module_sources');
    table.text('error');
    table.text('job').notNullable();
    table.text('dispatch_handle');
    table.text('dispatch_cursor');
    table.string('attached_by', 64);
    table.string('heartbeat_at', 30);
    table.integer('log_count').notNullable().defaultTo(0);
    table.string('cancel_requested_by', 300);
    table.index(['entity_ref', 'environment', 'created_at'], 'runs_target_idx');
    table.index(['lock_key', 'operation'], 'runs_lock_key_idx');
    table.index(['status'], 'runs_status_idx');
    table.index(['plan_run_id'], 'runs_plan_run_id_idx');
    table.index(['created_at'], 'runs_created_at_idx');
  });

  await knex.schema.createTable('run_logs', table => {
    table.string('run_id', 36).notNullable().references('id').inTable('runs');
    table.integer('seq').notNullable();
    table.text('line').notNullable();
    table.primary(['run_id', 'seq']);
  });

  await knex.schema.createTable('run_approvals', table => {
    table.string('run_id', 36).notNullable().references('id').inTable('runs');
    table.string('approved_by', 300).notNullable();
    table.string('approved_at', 30).notNullable();
    table.primary(['run_id', 'approved_by']);
  });

  await knex.schema.createTable('run_history', table => {
    table.increments('id');
    table.string('run_id', 36).notNullable().references('id').inTable('runs');
    table.string('at', 30).notNullable();
    table.string('actor', 300).notNullable();
    table.string('action', 32).notNullable();
    table.text('detail');
    table.index(['run_id'], 'run_history_run_id_idx');
  });

  // The one-run-per-target rule lives here, as a primary key, so it holds
  // across every backend replica sharing the database.
  await knex.schema.createTable('target_locks', table => {
    table.string('lock_key', 64).primary();
    table
      .string('run_id', 36)
      .notNullable()
      .unique()
      .references('id')
      .inTable('runs');
    table.string('acquired_at', 30).notNullable();
  });
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  await knex.schema.dropTable('target_locks');
  await knex.schema.dropTable('run_history');
  await knex.schema.dropTable('run_approvals');
  await knex.schema.dropTable('run_logs');
  await knex.schema.dropTable('runs');
};
