/**
 * Simulated clients (TESTING.md 1): each opens a KV session, then issues put / get / cas / delete
 * on a small key space with a unique value per write. Clients talk to the member they believe
 * leads (reads sometimes go to a random member of the current configuration, new members
 * included), follow NotLeaderError hints, retry a write with the same session seq after a
 * timeout, a stopped member, a dropped proposal or a leader change, and give up at their deadline — the outcome is
 * then unknown and settled from the log later. Odd-numbered clients ask a follower to forward
 * their writes to the leader instead of following hints (the browser client's way).
 */
import { NotLeaderError, RaftError } from '../../src/core/errors.js';
import type { Random } from '../../src/core/random.js';
import type { MemberId } from '../../src/core/types.js';
import type { ReadConsistency } from '../../src/runtime/member.js';
import { encodeKvCommand } from '../../src/state/kv-codec.js';
import type { KvCommand, KvGetResult, KvOp, KvResult } from '../../src/state/kv-types.js';
import type { SimCluster, SimMember } from './cluster.js';
import type { History, OpRecord } from './history.js';
import { outputOf } from './history.js';
import type { KvInput } from '../../src/check/kv-model.js';
import type { WorkloadOptions } from './options.js';
import type { Trace } from './trace.js';
import type { VirtualTime } from './virtual-time.js';

/** What one attempt at a member came to. */
type Outcome<T> =
  | { readonly kind: 'ok'; readonly value: T }
  | { readonly kind: 'error'; readonly error: unknown }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'down' };

/** What clients need from the simulation. */
export interface WorkloadParts {
  readonly time: VirtualTime;
  readonly random: Random;
  readonly options: WorkloadOptions;
  readonly cluster: SimCluster;
  readonly history: History;
  readonly trace: Trace;
  /** One attempt at a member gives up after this long (a frozen member never answers). */
  readonly attemptTimeoutMs: number;
  /** Told about an error no client should ever see (a broken invariant, a TypeError). */
  readonly onUnexpected: (message: string) => void;
}

/** The clients of one run. */
export class Workload {
  private readonly clients: SimClient[] = [];
  private running = 0;
  /** Clients issue no new operation after this time. */
  stopIssuingAt = Infinity;

  constructor(readonly parts: WorkloadParts) {}

  /** Starts `options.clients` clients. */
  start(): void {
    for (let i = 0; i < this.parts.options.clients; i++) this.launch(new SimClient(this, i + 1));
  }

  /**
   * The liveness probe: a fresh client that registers and writes once. Resolves true if the
   * write is acknowledged before `deadlineMs`. A second probe needs another `clientId` (values
   * written are unique per client id).
   */
  async probe(deadlineMs: number, clientId = 0): Promise<boolean> {
    const client = new SimClient(this, clientId);
    return client.writeOnce(deadlineMs);
  }

  /** True once every client has finished its last operation. */
  get idle(): boolean {
    return this.running === 0;
  }

  /** May a client start another operation now? */
  canIssue(): boolean {
    return (
      this.parts.time.now < this.stopIssuingAt &&
      this.parts.history.size < this.parts.options.opsMax
    );
  }

  private launch(client: SimClient): void {
    this.running++;
    this.clients.push(client);
    void client
      .run()
      .catch((error: unknown) =>
        this.parts.onUnexpected(`client ${client.id} failed: ${describeError(error)}`),
      )
      .finally(() => this.running--);
  }
}

class SimClient {
  private session: number | null = null;
  private seq = 0;
  private target: MemberId;
  private writes = 0;
  private readonly seen = new Map<string, string | null>();
  private readonly parts: WorkloadParts;
  /** Writes through whichever member it talks to, which forwards them to the leader. */
  private readonly forward: boolean;

  constructor(
    private readonly workload: Workload,
    readonly id: number,
  ) {
    this.parts = workload.parts;
    this.target = this.randomMember();
    this.forward = id % 2 === 1;
  }

  async run(): Promise<void> {
    const { random, options } = this.parts;
    await this.sleep(random.float() * options.thinkTimeMaxMs);
    while (this.workload.canIssue()) {
      if (this.session === null) await this.register(this.parts.time.now + options.opDeadlineMs);
      else if (random.float() < options.readFraction) await this.read();
      else await this.write();
      await this.sleep(random.float() * options.thinkTimeMaxMs);
    }
  }

  /** Registers (if needed) and writes once; true if the write was acknowledged in time. */
  async writeOnce(deadlineMs: number): Promise<boolean> {
    while (this.session === null && this.parts.time.now < deadlineMs)
      await this.register(deadlineMs);
    if (this.session === null) return false;
    return (await this.write(deadlineMs)).status === 'ok';
  }

  private async register(deadlineMs: number): Promise<void> {
    const bytes = encodeKvCommand({ type: 'registerSession' });
    while (this.parts.time.now < deadlineMs) {
      const outcome = await this.attempt(
        (m) => m.propose(bytes, { forward: this.forward }),
        deadlineMs,
      );
      if (outcome.kind === 'ok' && outcome.value.type === 'registerSession') {
        this.session = outcome.value.session;
        this.seq = 0;
        this.parts.trace.log(() => `client ${this.id} session ${this.session}`);
        return;
      }
      await this.recover(outcome);
    }
  }

  private async write(deadlineMs?: number): Promise<OpRecord> {
    const session = this.session!;
    const seq = ++this.seq;
    const { op, input } = this.drawWrite();
    const command: KvCommand = { type: 'op', header: { session, seq, lowestUnacked: seq }, op };
    const bytes = encodeKvCommand(command);
    const record = this.parts.history.invoke(this.id, input, session, seq);
    const deadline = deadlineMs ?? record.call + this.parts.options.opDeadlineMs;
    while (this.parts.time.now < deadline) {
      const outcome = await this.attempt(
        (m) => m.propose(bytes, { forward: this.forward }),
        deadline,
      );
      if (outcome.kind === 'ok') return this.finishWrite(record, outcome.value);
      await this.recover(outcome);
    }
    this.parts.history.unknown(record);
    this.parts.trace.log(() => `client ${this.id} gives up on seq ${seq}: outcome unknown`);
    return record;
  }

  private finishWrite(record: OpRecord, result: KvResult): OpRecord {
    const output = outputOf(record.input, result);
    if (output === null) {
      // An error result (e.g. SESSION_EXPIRED): an earlier attempt may still have applied it.
      if (result.type === 'error' && result.code === 'SESSION_EXPIRED') this.session = null;
      this.parts.history.unknown(record);
      return record;
    }
    this.parts.history.ok(record, output);
    const input = record.input;
    if (input.op === 'put') this.seen.set(input.key, input.value);
    else if (input.op === 'delete') this.seen.set(input.key, null);
    else if (input.op === 'cas' && 'ok' in output && output.ok)
      this.seen.set(input.key, input.next);
    this.parts.trace.log(() => `client ${this.id} ${input.op} ${input.key} seq ${record.seq} ok`);
    return record;
  }

  private async read(): Promise<void> {
    const { random, options } = this.parts;
    const key = this.drawKey();
    const mode: ReadConsistency =
      random.float() < options.leaseReadFraction ? 'lease' : 'linearizable';
    const record = this.parts.history.invoke(this.id, { op: 'get', key }, null, null);
    const deadline = record.call + options.opDeadlineMs;
    let target = random.float() < options.followerReadFraction ? this.randomMember() : this.target;
    while (this.parts.time.now < deadline) {
      const outcome = await this.attempt(
        (m) => m.read({ type: 'get', key }, mode),
        deadline,
        target,
      );
      if (outcome.kind === 'ok') {
        const entry = outcome.value as KvGetResult;
        const value = entry === null ? null : entry.value;
        if (value !== null && typeof value !== 'string')
          this.parts.onUnexpected(`get(${key}) returned ${JSON.stringify(value)}`);
        this.parts.history.ok(record, { value: value as string | null });
        this.seen.set(key, value as string | null);
        this.parts.trace.log(
          () => `client ${this.id} get ${key} (${mode} at ${target}) = ${JSON.stringify(value)}`,
        );
        return;
      }
      await this.recover(outcome);
      target = this.target;
    }
    this.parts.history.fail(record);
  }

  private drawWrite(): { op: KvOp; input: KvInput } {
    const { random, options } = this.parts;
    const key = this.drawKey();
    const value = `${this.id}.${++this.writes}`;
    const roll = random.float();
    if (roll < options.deleteFraction)
      return { op: { type: 'delete', key }, input: { op: 'delete', key } };
    if (roll < options.deleteFraction + options.casFraction) {
      const expected = random.float() < 0.8 ? (this.seen.get(key) ?? null) : null;
      return {
        op: { type: 'cas', key, expected, next: value },
        input: { op: 'cas', key, expected, next: value },
      };
    }
    return { op: { type: 'put', key, value }, input: { op: 'put', key, value } };
  }

  private drawKey(): string {
    return `k${this.parts.random.int(this.parts.options.keys)}`;
  }

  /** One call into a member, bounded by the attempt timeout and the deadline. */
  private attempt<T>(
    action: (member: SimMember) => Promise<T>,
    deadlineMs: number,
    target: MemberId = this.target,
  ): Promise<Outcome<T>> {
    const { time, cluster, attemptTimeoutMs } = this.parts;
    return new Promise<Outcome<T>>((resolve) => {
      let settled = false;
      const finish = (outcome: Outcome<T>): void => {
        if (settled) return;
        settled = true;
        time.cancel(timer);
        resolve(outcome);
      };
      const timer = time.schedule(
        Math.min(attemptTimeoutMs, deadlineMs - time.now),
        null,
        'client',
        () => finish({ kind: 'timeout' }),
      );
      // The call runs inside the member (held while it is paused, like a message to a frozen tab).
      time.schedule(0, target, 'client', () => {
        const member = cluster.member(target);
        if (member === null) return finish({ kind: 'down' });
        let pending: Promise<T>;
        try {
          pending = action(member);
        } catch (error) {
          return finish({ kind: 'error', error });
        }
        pending.then(
          (value) => finish({ kind: 'ok', value }),
          (error: unknown) => finish({ kind: 'error', error }),
        );
      });
    });
  }

  /** Picks the next member and waits a little, according to what went wrong. */
  private async recover(outcome: Outcome<unknown>): Promise<void> {
    const random = this.parts.random;
    if (outcome.kind === 'timeout') {
      this.target = this.randomMember();
      return;
    }
    if (outcome.kind === 'down') {
      this.target = this.randomMember();
      return this.sleep(5 + random.float() * 25);
    }
    if (outcome.kind === 'ok') return this.sleep(5); // e.g. a registration answered oddly
    const error = outcome.error;
    if (error instanceof NotLeaderError) {
      if (error.leaderId !== null) this.target = error.leaderId;
      else this.target = this.randomMember();
      return error.leaderId !== null ? undefined : this.sleep(5 + random.float() * 25);
    }
    const code = error instanceof RaftError ? error.code : null;
    if (code === 'OVERLOADED' || code === 'LEADERSHIP_TRANSFER')
      return this.sleep(20 + random.float() * 30);
    if (
      code === 'TIMEOUT' ||
      code === 'MEMBER_STOPPED' ||
      code === 'PROPOSAL_DROPPED' ||
      code === 'LEADER_CHANGED'
    ) {
      this.target = this.randomMember();
      return this.sleep(random.float() * 10);
    }
    this.parts.onUnexpected(`client ${this.id} got ${describeError(error)}`);
    this.target = this.randomMember();
    return this.sleep(20);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.parts.time.schedule(ms, null, 'client', resolve));
  }

  /** A member of the configuration last seen at a leader (clients follow the membership). */
  private randomMember(): MemberId {
    const ids = this.parts.cluster.routable();
    return ids[this.parts.random.int(ids.length)]!;
  }
}

function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
