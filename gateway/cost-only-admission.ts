/**
 * A real but minimal Admission: admits every request and prices usage with the target's
 * pricing (integer micro-USD, src/budget/cost.ts). It enforces no window or budget: the
 * no-limits alternative to the limits engine (src/ratelimit), and the tests' base admission.
 */
import {
  type Admission,
  type AdmissionOutcome,
  type AdmissionRequest,
  type AdmissionTicket,
  NO_RATE_LIMIT_HEADERS,
  type Usage,
} from '../src/policy/admission.js';
import type { TargetRoute } from '../src/policy/resolved-policy.js';
import { costMicros } from '../src/budget/cost.js';

interface CostTicket extends AdmissionTicket {
  readonly target: TargetRoute;
  readonly estimatedInputTokens: number;
}

export class CostOnlyAdmission implements Admission {
  private nextId = 1;

  admit(request: AdmissionRequest): Promise<AdmissionOutcome> {
    const ticket: CostTicket = {
      id: this.nextId++,
      target: request.target,
      estimatedInputTokens: request.estimatedInputTokens,
    };
    return Promise.resolve({ ok: true, ticket, headers: NO_RATE_LIMIT_HEADERS });
  }

  settle(ticket: AdmissionTicket, usage: Usage): Promise<{ costMicros: number }> {
    return Promise.resolve({
      costMicros: costMicros((ticket as CostTicket).target, usage.inputTokens, usage.outputTokens),
    });
  }

  release(_ticket: AdmissionTicket): Promise<void> {
    return Promise.resolve();
  }

  abort(ticket: AdmissionTicket): Promise<{ costMicros: number }> {
    const { target, estimatedInputTokens } = ticket as CostTicket;
    return Promise.resolve({
      costMicros: costMicros(target, estimatedInputTokens, 0),
    });
  }
}
