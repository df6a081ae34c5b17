/**
 * A token bucket: at most `burstMax` messages at once, refilled at `perSecondMax`. Time comes from
 * the caller, so the bucket is deterministic under a fake clock.
 */
import { assert } from '../core/errors.js';

export class TokenBucket {
  private tokens: number;
  private refilledAtMs: number;

  constructor(
    private readonly perSecondMax: number,
    private readonly burstMax: number,
    nowMs: number,
  ) {
    assert(perSecondMax > 0 && burstMax >= 1, 'a token bucket needs a positive rate and size');
    this.tokens = burstMax;
    this.refilledAtMs = nowMs;
  }

  /** Takes one token if there is one; false means the message goes over the rate. */
  take(nowMs: number): boolean {
    // A clock that steps back refills nothing rather than draining the bucket.
    const elapsedMs = Math.max(0, nowMs - this.refilledAtMs);
    this.refilledAtMs = Math.max(this.refilledAtMs, nowMs);
    this.tokens = Math.min(this.burstMax, this.tokens + (elapsedMs * this.perSecondMax) / 1000);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    assert(this.tokens >= 0 && this.tokens <= this.burstMax, 'tokens stay within the bucket');
    return true;
  }
}
