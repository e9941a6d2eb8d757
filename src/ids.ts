import { randomBytes } from 'node:crypto';

/** Public object ids: a type prefix and 16 random hex bytes, e.g. `key_3f2a…`. */
export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString('hex')}`;
}
