/** The pages shown before sign-in: the sign-in form, the set-password form, a plain message. */
import { MIN_PASSWORD_LENGTH } from '../auth/passwords.js';
import { Document } from './layout.js';

function Alert(props: { error?: string | undefined; notice?: string | undefined }) {
  if (props.error !== undefined)
    return (
      <p class="error" role="alert" id="form-error">
        {props.error}
      </p>
    );
  if (props.notice !== undefined)
    return (
      <p class="notice" role="status">
        {props.notice}
      </p>
    );
  return null;
}

export function SignInPage(props: { csrf: string; error?: string | undefined; notice?: string | undefined }) {
  return (
    <Document title="Sign in">
      <main id="main" class="narrow">
        <h1>Sign in to keygate</h1>
        <Alert error={props.error} notice={props.notice} />
        <form method="post" action="/sign-in" class="card">
          <input type="hidden" name="csrf" value={props.csrf} />
          <input type="hidden" name="method" value="password" />
          <label for="email">Email</label>
          <input id="email" name="email" type="email" autocomplete="username" required />
          <label for="password">Password</label>
          <input id="password" name="password" type="password" autocomplete="current-password" required />
          <button type="submit" class="primary">
            Sign in
          </button>
        </form>
        <details class="card">
          <summary>Platform admin (master key)</summary>
          <form method="post" action="/sign-in">
            <input type="hidden" name="csrf" value={props.csrf} />
            <input type="hidden" name="method" value="master" />
            <label for="master_key">Master key</label>
            <input id="master_key" name="master_key" type="password" autocomplete="off" required />
            <button type="submit">Sign in with the master key</button>
          </form>
        </details>
      </main>
    </Document>
  );
}

export function SetPasswordPage(props: { csrf: string; email: string; error?: string }) {
  return (
    <Document title="Set your password">
      <main id="main" class="narrow">
        <h1>Set your password</h1>
        <p>
          For <strong>{props.email}</strong>. This link works once.
        </p>
        <Alert error={props.error} />
        <form method="post" class="card">
          <input type="hidden" name="csrf" value={props.csrf} />
          <input type="hidden" name="username" value={props.email} autocomplete="username" />
          <label for="password">New password</label>
          <input
            id="password"
            name="password"
            type="password"
            autocomplete="new-password"
            minlength={MIN_PASSWORD_LENGTH}
            aria-describedby="password-hint"
            required
          />
          <p id="password-hint" class="hint">
            At least {MIN_PASSWORD_LENGTH} characters.
          </p>
          <label for="confirm">Repeat the password</label>
          <input id="confirm" name="confirm" type="password" autocomplete="new-password" required />
          <button type="submit" class="primary">
            Set password
          </button>
        </form>
      </main>
    </Document>
  );
}

export function SimpleMessage(props: { title: string; text: string }) {
  return (
    <Document title={props.title}>
      <main id="main" class="narrow">
        <h1>{props.title}</h1>
        <p>{props.text}</p>
        <p>
          <a href="/sign-in">Go to sign-in</a>
        </p>
      </main>
    </Document>
  );
}
