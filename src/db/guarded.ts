import { getTableColumns, is, SQL, sql, type Table } from "drizzle-orm";

/**
 * Ingest writes an event and everything that follows from it in one D1 batch (one transaction).
 * Each statement after the insert runs only while the event is stored and not yet processed: a
 * duplicate (its insert did nothing), a redelivered buffered event or a second healer then changes
 * nothing, because the batch's last statement sets `processed_at`.
 */
export const eventPending = (eventId: SQL | string): SQL =>
  sql`EXISTS (SELECT 1 FROM events WHERE events.id = ${eventId} AND events.processed_at IS NULL)`;

/**
 * A multi-row `INSERT … SELECT` source that keeps each row only while its event is pending:
 * `SELECT column1…columnN FROM (VALUES (…, eventId), …) WHERE <eventPending(columnN+1)>`.
 * Columns follow the table's order (what drizzle's insert-select names), defaults filled in as a
 * plain multi-row insert would. One bound parameter per column plus one per row (an SQL value binds its own).
 */
export function pendingEventRows(table: Table, rows: Array<{ values: Record<string, unknown>; eventId: string }>) {
  const columns = Object.entries(getTableColumns(table));
  const tuples = rows.map(({ values, eventId }) => {
    const cells = columns.map(([key, column]) => {
      const value = values[key];
      if (is(value, SQL)) return value;
      if (value !== undefined) return sql.param(value, column);
      if (column.default !== undefined && column.default !== null) {
        return is(column.default, SQL) ? column.default : sql.param(column.default, column);
      }
      return sql`null`;
    });
    return sql`(${sql.join([...cells, sql`${eventId}`], sql`, `)})`;
  });
  const names = sql.raw(columns.map((_, i) => `column${i + 1}`).join(", "));
  const eventColumn = sql.raw(`column${columns.length + 1}`);
  return sql`SELECT ${names} FROM (VALUES ${sql.join(tuples, sql`, `)}) WHERE ${eventPending(eventColumn)}`;
}
