/** Callable targets and access groups with their current members (`GET /targets`), read-only. */
import type { Context } from 'hono';
import type { AdminEnv } from '../context.js';
import { apiGet, type ConsoleContext } from './console-context.js';
import type { AccessGroupView, TargetView } from './key-types.js';
import { Unavailable } from './layout.js';
import type { ListAnswer } from './pages.js';

export async function targetsPage(ctx: ConsoleContext, c: Context<AdminEnv>) {
  const targets = await apiGet<ListAnswer<TargetView>>(ctx, c, '/v1/targets?limit=1000');
  const groups = await apiGet<ListAnswer<AccessGroupView>>(ctx, c, '/v1/access-groups?limit=1000');
  const members = new Map<string, string[]>();
  if (groups.status === 200) {
    for (const g of groups.body.data) {
      const answer = await apiGet<{ data: { name: string }[] }>(ctx, c, `/v1/access-groups/${g.id}/targets`);
      members.set(g.id, answer.status === 200 ? answer.body.data.map((t) => t.name) : []);
    }
  }
  return {
    title: 'Targets & access groups',
    body: (
      <>
        <h1>Targets</h1>
        {targets.status !== 200 ? (
          <Unavailable what="Targets" status={targets.status} />
        ) : (
          <ul>
            {targets.body.data.map((t) => (
              <li>
                <code>{t.name}</code> <span class="muted">{(t.tags ?? []).join(', ')}</span>
              </li>
            ))}
          </ul>
        )}
        <h2>Access groups</h2>
        {groups.status !== 200 ? (
          <Unavailable what="Access groups" status={groups.status} />
        ) : (
          <ul>
            {groups.body.data.map((g) => (
              <li>
                <strong>{g.name}</strong>: {(members.get(g.id) ?? []).join(', ') || 'no targets yet'}
              </li>
            ))}
          </ul>
        )}
      </>
    ),
  };
}
