// Applies storage/migrations/*.sql in name order, once each, recorded in schema_migrations.
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";
import type { Sql } from "postgres";

const migrationsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "migrations");

export function migrationFiles(): { name: string; text: string }[] {
  return readdirSync(migrationsDir)
    .filter((f) => f.endsWith(".sql"))
    .sort()
    .map((name) => ({ name, text: readFileSync(path.join(migrationsDir, name), "utf8") }));
}

export async function migrate(sql: Sql): Promise<string[]> {
  const applied: string[] = [];
  await sql.begin(async (tx) => {
    // Two instances starting at once: the second waits here until the first has committed.
    // A migration rewriting a big table may take longer than the pool's statement_timeout.
    await tx`set local statement_timeout = 0`;
    await tx`select pg_advisory_xact_lock(hashtext(current_schema() || '.schema_migrations'))`;
    await tx`create table if not exists schema_migrations (
      name text primary key, applied_at timestamptz not null default now())`;
    const done = new Set((await tx<{ name: string }[]>`select name from schema_migrations`).map((r) => r.name));
    for (const file of migrationFiles()) {
      if (done.has(file.name)) continue;
      await tx.unsafe(file.text);
      await tx`insert into schema_migrations (name) values (${file.name})`;
      applied.push(file.name);
    }
  });
  return applied;
}
