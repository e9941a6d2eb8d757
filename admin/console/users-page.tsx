/**
 * Users (`GET /users`): the users the caller can see. Platform admins invite (the browser calls
 * `POST /v1/users`, then `POST /v1/users/:id/password-link`) and make a new set-password link for
 * anyone; the link is shown once in the page. Platform admins block and unblock users
 * (`POST /v1/users/:id/block|unblock`, confirmed in a dialog); the user view's `blocked` says
 * which they are.
 */
import type { Context } from 'hono';
import type { AdminEnv } from '../context.js';
import { apiGet, type ConsoleContext, type PageState } from './console-context.js';
import { ConfirmDialog } from './key-action-dialogs.js';
import { FieldError } from './key-create-dialog.js';
import { Unavailable } from './layout.js';
import { formatTime, type ListAnswer } from './pages.js';

interface UserView {
  id: string;
  email: string;
  name: string | null;
  platform_role: string;
  blocked: boolean;
  created_at: string | null;
}

export async function usersPage(ctx: ConsoleContext, c: Context<AdminEnv>, state: PageState) {
  const users = await apiGet<ListAnswer<UserView>>(ctx, c, '/v1/users?limit=1000');
  const admin = state.me.permissions.platform.length > 0;
  return {
    title: 'Users',
    body: (
      <>
        <h1>Users</h1>
        {admin ? (
          <form id="invite-form" class="card" novalidate>
            <h2>Invite a user</h2>
            <p class="error" id="err-form" role="alert" hidden></p>
            <div class="field">
              <label for="invite-email">Email</label>
              <input id="invite-email" name="email" type="email" required aria-describedby="err-email" />
              <FieldError name="email" />
            </div>
            <div class="field">
              <label for="invite-name">Name (optional)</label>
              <input id="invite-name" name="name" aria-describedby="err-name" />
              <FieldError name="name" />
            </div>
            <button type="submit" class="primary">
              Invite
            </button>
          </form>
        ) : null}
        <div id="link-panel" class="card" hidden role="status">
          <p>
            One-time set-password link for <strong id="link-email"></strong> (expires{' '}
            <span id="link-expiry"></span>):
          </p>
          <code id="link-url" data-testid="password-link"></code>
        </div>
        {users.status !== 200 ? (
          <Unavailable what="The user list" status={users.status} />
        ) : (
          <div class="table-wrap" tabindex={0} role="region" aria-label="Users table">
            <table>
              <thead>
                <tr>
                  <th scope="col">Email</th>
                  <th scope="col">Name</th>
                  <th scope="col">Role</th>
                  <th scope="col">Created</th>
                  {admin ? <th scope="col">Status</th> : null}
                  {admin ? <th scope="col">Actions</th> : null}
                </tr>
              </thead>
              <tbody>
                {users.body.data.map((u) => (
                  <tr>
                    <td>{u.email}</td>
                    <td>{u.name ?? '—'}</td>
                    <td>{u.platform_role === 'platform_admin' ? 'platform admin' : 'member'}</td>
                    <td>{formatTime(u.created_at)}</td>
                    {admin ? (
                      <td>
                        {u.blocked ? (
                          <span class="status status-blocked">blocked</span>
                        ) : (
                          <span class="status status-active">active</span>
                        )}
                      </td>
                    ) : null}
                    {admin ? (
                      <td class="actions">
                        <button
                          type="button"
                          data-action="password-link"
                          data-user-id={u.id}
                          data-user-email={u.email}
                        >
                          Set-password link
                        </button>
                        <button
                          type="button"
                          data-action={u.blocked ? 'user-unblock' : 'user-block'}
                          data-user-id={u.id}
                          data-user-email={u.email}
                        >
                          {u.blocked ? 'Unblock' : 'Block'}
                        </button>
                      </td>
                    ) : null}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {admin ? <ConfirmDialog /> : null}
      </>
    ),
  };
}
