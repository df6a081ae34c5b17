/**
 * Turns a member's timeline on and off. The driver tests one field, `active`, on its hot paths:
 * null while not recording, so a member that never records allocates nothing for it.
 */
import type { MemberId } from '../../core/types.js';
import type { MemberTimeline, TimelineEvent, TimelineOptions, TimelineStats } from './events.js';
import { TimelineRecorder } from './recorder.js';
import type { ObservedState } from './recorder.js';
import { toShiViz } from './shiviz.js';

export class TimelineControl implements MemberTimeline {
  /** Kept after `stop()`, so its events stay readable and its clock keeps counting on restart. */
  private recorder: TimelineRecorder | null = null;
  /** The recorder while recording, else null. */
  active: TimelineRecorder | null = null;

  constructor(
    private readonly self: MemberId,
    private readonly wallClock: () => number,
    private readonly state: () => ObservedState,
  ) {}

  get recording(): boolean {
    return this.active !== null;
  }

  /** `reason` goes into the `start` event (the member's own start, when it records from it). */
  start(options: TimelineOptions = {}, reason = 'recording'): void {
    if (this.recorder === null)
      this.recorder = new TimelineRecorder(this.self, this.wallClock, options);
    else this.recorder.configure(options);
    if (this.active !== null) return;
    this.active = this.recorder;
    this.active.begin(this.state(), reason);
  }

  stop(reason = 'recording stopped'): void {
    if (this.active === null) return;
    this.active.end(reason);
    this.active = null;
  }

  events(): TimelineEvent[] {
    return this.recorder?.events() ?? [];
  }

  clear(): void {
    this.recorder?.clear();
  }

  stats(): TimelineStats {
    return (
      this.recorder?.stats(this.recording) ?? {
        recording: false,
        events: 0,
        overwritten: 0,
        clockEntriesRefused: 0,
      }
    );
  }

  exportShiViz(): string {
    return toShiViz(this.events());
  }
}
