/**
 * Types for the one rate-limiter-flexible primitive keygate uses directly: its synchronous
 * in-memory storage (the package's public types do not export it).
 */
declare module 'rate-limiter-flexible/lib/component/MemoryStorage/MemoryStorage.js' {
  import type { RateLimiterRes } from 'rate-limiter-flexible';

  export default class MemoryStorage {
    incrby(key: string, value: number, durationSec: number): RateLimiterRes;
    set(key: string, value: number, durationSec: number): RateLimiterRes;
    get(key: string): RateLimiterRes | null;
    delete(key: string): boolean;
  }
}
