/**
 * Who may bootstrap a cluster in a room (decisions 6 and 9): the signaling server names at most
 * one member per room, so that two clusters never form in one room.
 *
 * A room "has a cluster" once a member joined it saying `hasLog` (it already belongs to one), or
 * once a bootstrapper was named in it. A room without a cluster gets one bootstrapper: its
 * earliest member still present (none of them said `hasLog`, or it would have a cluster).
 *
 * The server keeps rooms in memory only, so after a restart it cannot tell a room whose cluster
 * is still running (its tabs are reconnecting with backoff) from a new one. For `graceMs` after
 * its start it therefore names no one: members that belong to a cluster come back and say
 * `hasLog` meanwhile, and a new tab that arrived first is named only if none did. After the grace
 * a member that joins an empty room is named at once, in its welcome, as before.
 *
 * Limits of the rule, by design: a named bootstrapper that leaves before bootstrapping does not
 * hand the role on (the room keeps "having a cluster" while anyone is in it); a room is forgotten
 * when it empties, so a cluster whose members all lost the server while it kept running is not
 * remembered; and members that reconnect only after the grace are too late.
 */

/** A room member as the arbiter sees it. */
export interface BootstrapCandidate {
  /** It said `hasLog` in its hello: it belongs to a cluster and never bootstraps. */
  readonly hasLog: boolean;
}

/** A room as the arbiter sees it: its members in order of joining, and its one decision. */
export interface BootstrapRoom<P extends BootstrapCandidate> {
  readonly members: ReadonlyMap<string, P>;
  hasCluster: boolean;
}

/** Applies the rule above; the room logic (rooms.ts) tells the named members. */
export class BootstrapArbiter {
  private graceOver: boolean;
  /** Whether every room was looked at once after the grace (later joins decide at once). */
  private graceSwept = false;

  constructor(
    private readonly startedAtMs: number,
    private readonly graceMs: number,
  ) {
    this.graceOver = graceMs === 0;
  }

  /** `member` (already in `room.members`) just joined: the member to name now, if any. */
  joined<P extends BootstrapCandidate>(room: BootstrapRoom<P>, member: P, nowMs: number): P | null {
    if (member.hasLog) room.hasCluster = true;
    return this.isGraceOver(nowMs) ? nameIn(room) : null;
  }

  /**
   * Once the grace is over (the host sweeps periodically): the members to name in the rooms still
   * without a cluster, one per room. Every later call returns none, since joins after the grace
   * decide at once.
   */
  graceEnded<P extends BootstrapCandidate>(rooms: Iterable<BootstrapRoom<P>>, nowMs: number): P[] {
    if (this.graceSwept || !this.isGraceOver(nowMs)) return [];
    this.graceSwept = true;
    const named: P[] = [];
    for (const room of rooms) {
      const member = nameIn(room);
      if (member !== null) named.push(member);
    }
    return named;
  }

  private isGraceOver(nowMs: number): boolean {
    // Latched: an injected clock that steps back must not reopen the grace.
    this.graceOver ||= nowMs - this.startedAtMs >= this.graceMs;
    return this.graceOver;
  }
}

/** Names the earliest member of a room without a cluster, which then has one. */
function nameIn<P extends BootstrapCandidate>(room: BootstrapRoom<P>): P | null {
  if (room.hasCluster) return null;
  for (const member of room.members.values()) {
    if (member.hasLog) continue;
    room.hasCluster = true;
    return member;
  }
  return null;
}
