/**
 * The console's list table: a focusable, labelled scroll region around a table with one header
 * row of column titles; the rows are the caller's.
 */
import type { Child } from 'hono/jsx';

export function DataTable(props: { label: string; columns: readonly string[]; children?: Child }) {
  return (
    <div class="table-wrap" tabindex={0} role="region" aria-label={props.label}>
      <table>
        <thead>
          <tr>
            {props.columns.map((title) => (
              <th scope="col">{title}</th>
            ))}
          </tr>
        </thead>
        <tbody>{props.children}</tbody>
      </table>
    </div>
  );
}
