/**
 * Time for the driver: a clock and one-shot timers. The real one wraps the platform; the
 * simulator supplies a virtual one, so the same driver runs in a browser and under a seed.
 */

export type TimerHandle = unknown;

export interface Scheduler {
  /** Milliseconds on a clock that never goes backwards within one run. */
  now(): number;
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** The platform's timers and monotonic clock (performance.now where available). */
export const realScheduler: Scheduler = {
  now: () => (typeof performance !== 'undefined' ? performance.now() : Date.now()),
  setTimeout: (callback, delayMs) => globalThis.setTimeout(callback, delayMs),
  clearTimeout: (handle) =>
    globalThis.clearTimeout(handle as ReturnType<typeof globalThis.setTimeout>),
};

/** The wall clock, used only to stamp log time into proposals (see ApplyContext.time). */
export const wallClock = (): number => Date.now();
