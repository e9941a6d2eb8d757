/** The one 409 for a name already taken (orgs, teams, targets, access groups): `param: name`. */
import { KeygateError } from '../src/errors/keygate-error.js';

export function requireUniqueName(taken: boolean, message: string): void {
  if (taken) throw new KeygateError('conflict', { param: 'name', message });
}
