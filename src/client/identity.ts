/**
 * A member's identity outlives its tab (DESIGN decision 6, issue 12). Each member id owns one
 * IndexedDB database, `webraft/<room>/<id>`, and is run by at most one live tab, which holds the
 * Web Lock `webraft/<room>/<id>` for its life (a crashed tab's lock goes with it). A new tab first
 * takes back the id it had before a reload, then adopts a free persisted identity of the room —
 * most recently active first — so a browser restart brings the cluster back with its data; only
 * when none is free does it create a new member. The databases of the origin are the registry;
 * the leader's tab deletes those of identities the cluster no longer has.
 */
import { openDB } from 'idb';
import type { IDBPDatabase } from 'idb';
import type { MemberId } from '../core/types.js';
import { IndexedDbStorage } from '../storage/indexeddb.js';
import { databaseNames } from '../storage/buckets.js';

export interface ClaimedIdentity {
  readonly memberId: MemberId;
  /** A persisted identity (open its database), or a new one (create it). */
  readonly existing: boolean;
  /** Lets another tab take the identity (the member has stopped). */
  readonly release: () => void;
}

const sessionKey = (room: string): string => `webraft/${room}/member-id`;
const activeKey = (room: string, id: MemberId): string => `webraft/${room}/active/${id}`;
const lockName = (room: string, id: MemberId): string => `webraft/${room}/${id}`;
const databasePrefix = (room: string): string => IndexedDbStorage.databaseName('', room);

/**
 * Claims an identity for this tab in `room`. `avoid` are ids not to adopt (one whose storage
 * turned out to be gone or unreadable).
 */
export async function claimIdentity(
  room: string,
  avoid: ReadonlySet<MemberId> = new Set(),
): Promise<ClaimedIdentity> {
  for (const memberId of await candidates(room)) {
    if (avoid.has(memberId)) continue;
    const release = await holdLock(lockName(room, memberId));
    if (release === null) continue;
    remember(room, memberId);
    return { memberId, existing: true, release };
  }
  for (;;) {
    const memberId = `m-${randomId()}`;
    const release = await holdLock(lockName(room, memberId));
    if (release === null) continue;
    remember(room, memberId);
    return { memberId, existing: false, release };
  }
}

/** Marks `memberId` as active now (adoption prefers the most recently active identity). */
export function remember(room: string, memberId: MemberId): void {
  sessionStorage.setItem(sessionKey(room), memberId);
  localStorage.setItem(activeKey(room, memberId), String(Date.now()));
}

/** This tab's own id before a reload first, then the room's persisted ids, newest first. */
async function candidates(room: string): Promise<MemberId[]> {
  const own = sessionStorage.getItem(sessionKey(room));
  const persisted = await persistedIdentities(room);
  const lastActive = (id: MemberId): number =>
    Number(localStorage.getItem(activeKey(room, id)) ?? 0);
  persisted.sort((a, b) => lastActive(b) - lastActive(a));
  return [
    ...(own !== null && persisted.includes(own) ? [own] : []),
    ...persisted.filter((id) => id !== own),
  ];
}

/** The member ids of `room` that have a database on this origin. */
export async function persistedIdentities(room: string): Promise<MemberId[]> {
  const prefix = databasePrefix(room);
  return (await databaseNames())
    .filter((name) => name.startsWith(prefix) && name.length > prefix.length)
    .map((name) => name.slice(prefix.length));
}

/**
 * Deletes the databases of identities of `room` that are not in `members` (the configuration
 * the leader knows) and that no tab holds. Only the leader's view of the configuration is
 * current enough for this; call it from the leader's tab.
 */
export async function forgetRemovedIdentities(
  room: string,
  members: ReadonlySet<MemberId>,
): Promise<MemberId[]> {
  const forgotten: MemberId[] = [];
  for (const memberId of await persistedIdentities(room)) {
    if (members.has(memberId)) continue;
    const release = await holdLock(lockName(room, memberId));
    if (release === null) continue; // A live tab runs it (a newcomer not yet added, say).
    try {
      await IndexedDbStorage.destroy(memberId, room);
      localStorage.removeItem(activeKey(room, memberId));
      forgotten.push(memberId);
    } finally {
      release();
    }
  }
  return forgotten;
}

/**
 * The members that tabs of this browser run in `room` now: the holders of identity locks. Same
 * origin, so they are reachable over BroadcastChannel whether or not the signaling server is up.
 */
export async function localMembers(room: string): Promise<MemberId[]> {
  if (typeof navigator === 'undefined' || navigator.locks === undefined) return [];
  const prefix = lockName(room, '');
  const { held = [] } = await navigator.locks.query();
  return held
    .map((lock) => lock.name ?? '')
    .filter((name) => name.startsWith(prefix) && !name.slice(prefix.length).includes('/'))
    .map((name) => name.slice(prefix.length))
    .filter((id) => id.length > 0);
}

const clusterMarkKey = (room: string): string => `webraft/${room}/cluster`;
const bootstrapLockName = (room: string): string => `webraft-bootstrap/${room}`;

/** The mark in IndexedDB as well: see `markClusterHere`. Not `webraft/…`, the identities' prefix. */
const MARKS_DATABASE = 'webraft-marks';
const MARKS_STORE = 'clusters';
/** Rooms this context has marked in IndexedDB already: one durable write per room and tab. */
const markedDurably = new Set<string>();

/**
 * Marks that a cluster of `room` lives in this browser (a member here belongs to one). In
 * localStorage, which Chromium writes to disk only a while later, and in IndexedDB with strict
 * durability: a browser killed before the localStorage write forgot the mark, and a new tab of a
 * room whose old members came back in other tabs then bootstrapped a second cluster (seen in the
 * identity e2e, a member's database wiped and the browser killed).
 */
export async function markClusterHere(room: string): Promise<void> {
  localStorage.setItem(clusterMarkKey(room), String(Date.now()));
  if (markedDurably.has(room) || typeof indexedDB === 'undefined') return;
  try {
    const db = await openMarks();
    try {
      const tx = db.transaction(MARKS_STORE, 'readwrite', { durability: 'strict' });
      await Promise.all([tx.store.put(Date.now(), room), tx.done]);
      markedDurably.add(room);
    } finally {
      db.close();
    }
  } catch {
    // The localStorage mark stands; the next housekeeping round tries again.
  }
}

/** Whether this browser holds the mark of `room` (see `markClusterHere`). */
async function clusterMarked(room: string): Promise<boolean> {
  if (localStorage.getItem(clusterMarkKey(room)) !== null) return true;
  if (typeof indexedDB === 'undefined') return false;
  try {
    const db = await openMarks();
    try {
      return (await db.get(MARKS_STORE, room)) !== undefined;
    } finally {
      db.close();
    }
  } catch {
    return false; // Unreadable: as before the durable mark, localStorage alone decides.
  }
}

function openMarks(): Promise<IDBPDatabase> {
  return openDB(MARKS_DATABASE, 1, { upgrade: (db) => db.createObjectStore(MARKS_STORE) });
}

/**
 * Runs `bootstrap` — starting `room`'s cluster from tab `self` — when an arbiter allows it
 * (decision 6), under the Web Lock `webraft-bootstrap/<room>`, so that tabs of this browser take
 * turns. `by: 'server'`: the signaling server named this tab; its word stands unless tabs of this
 * browser already run a cluster of the room it has not heard of yet (started offline, not yet
 * reconnected). `by: 'offline'`: no server can decide, so the first tab to find no cluster in
 * this browser starts one and marks the browser; every later tab finds the mark and joins
 * instead. The mark outlives the tabs (a cluster's members persist) and goes only with the
 * site's data. Returns what `bootstrap` returned, or false if it did not run.
 */
export async function arbitrateBootstrap(
  room: string,
  self: MemberId,
  by: 'server' | 'offline',
  bootstrap: () => Promise<boolean>,
): Promise<boolean> {
  const decide = async (): Promise<boolean> => {
    if (await clusterMarked(room)) {
      if (by === 'offline') return false;
      const others = (await localMembers(room)).filter((id) => id !== self);
      if (others.length > 0) return false;
    }
    const started = await bootstrap();
    if (started) await markClusterHere(room);
    return started;
  };
  if (typeof navigator === 'undefined' || navigator.locks === undefined) return decide();
  return navigator.locks.request(bootstrapLockName(room), decide);
}

/** Takes the lock `name` if free, held until the returned release; null if someone holds it. */
function holdLock(name: string): Promise<(() => void) | null> {
  if (typeof navigator === 'undefined' || navigator.locks === undefined)
    return Promise.resolve(() => undefined);
  return new Promise((resolve) => {
    void navigator.locks.request(name, { ifAvailable: true }, (lock) => {
      if (lock === null) {
        resolve(null);
        return undefined;
      }
      return new Promise<void>((released) => resolve(() => released()));
    });
  });
}

function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
