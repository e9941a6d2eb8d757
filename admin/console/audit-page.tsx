/** The audit log (`GET /audit?entity_type=&entity_id=&actor_id=`), newest first, as `GET /v1/audit` scopes it. */
import type { Context } from 'hono';
import type { AdminEnv } from '../context.js';
import { apiGet, type ConsoleContext } from './console-context.js';
import { DataTable } from './data-table.js';
import { Unavailable } from './layout.js';
import { formatTime, type ListAnswer } from './pages.js';

/** One row of `GET /v1/audit`. */
export interface AuditEntry {
  id: string;
  at: string;
  actor: { type: string; id: string | null };
  via: string;
  action: string;
  entity_type: string;
  entity_id: string;
}

const FILTERS = [
  ['entity_type', 'Entity type'],
  ['entity_id', 'Entity id'],
  ['actor_id', 'Actor id'],
] as const;

export async function auditPage(ctx: ConsoleContext, c: Context<AdminEnv>) {
  const params = new URLSearchParams({ limit: '200' });
  for (const [name] of FILTERS) {
    const value = c.req.query(name);
    if (value !== undefined && value !== '') params.set(name, value);
  }
  const entries = await apiGet<ListAnswer<AuditEntry>>(ctx, c, `/v1/audit?${params}`);
  return {
    title: 'Audit log',
    body: (
      <>
        <h1>Audit log</h1>
        <form method="get" action="/audit" class="filters" role="search">
          {FILTERS.map(([name, label]) => (
            <>
              <label for={`audit-${name}`}>{label}</label>
              <input id={`audit-${name}`} name={name} value={c.req.query(name) ?? ''} />
            </>
          ))}
          <button type="submit">Filter</button>
        </form>
        {entries.status !== 200 ? (
          <Unavailable what="The audit log" status={entries.status} />
        ) : (
          <DataTable label="Audit entries" columns={['When', 'Action', 'Entity', 'Actor', 'Via']}>
            {entries.body.data.map((e) => (
              <tr>
                <td>{formatTime(e.at)}</td>
                <td>{e.action}</td>
                <td>
                  {e.entity_type} <code>{e.entity_id}</code>
                </td>
                <td>
                  {e.actor.type} {e.actor.id ?? ''}
                </td>
                <td>{e.via}</td>
              </tr>
            ))}
          </DataTable>
        )}
      </>
    ),
  };
}
