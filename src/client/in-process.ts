/**
 * A member whose host runs in this process, not in a worker: a Node member (src/node) and an
 * edge member (src/edge). The host is reached through comlink over an in-process MessageChannel,
 * exactly as a tab reaches its worker, so the room session and the cluster handle (`supervise`)
 * are a tab's. Runtime-agnostic: MessageChannel is in Node, Deno and workerd alike.
 */
import { expose, releaseProxy, wrap } from 'comlink';
import type { Remote } from 'comlink';
import type { MemberId } from '../core/types.js';
import type { WebSocketConstructor } from '../signaling/client.js';
import type { ConnectOptions, Incarnation } from './connect.js';
import type { HostStartOptions, MemberHost } from './member-host.js';
import { joinRoom } from './room-session.js';
import type { MeshLinks, RoomPlatform, RoomSessionOptions } from './room-session.js';
import type { MeshSignaling } from '../transport/webrtc/peer-mesh.js';

/**
 * The platform of a process in a room: no other members run beside it, it never starts a cluster
 * with no signaling server (nothing arbitrates that for it; the server may name it bootstrapper
 * like any tab), and `startMesh` builds its mesh (WebRTC for a Node member, none at the edge).
 */
export function processRoom(
  startMesh: (signaling: MeshSignaling) => MeshLinks,
  WebSocket?: WebSocketConstructor,
): RoomPlatform {
  return {
    localMembers: async () => [],
    arbitrateBootstrap: async (_room, _self, by, bootstrap) =>
      by === 'server' ? bootstrap() : false,
    keepHouse: async () => undefined,
    startMesh,
    ...(WebSocket === undefined ? {} : { WebSocket }),
  };
}

/** The options of `MemberHost.start` that come from a member's ConnectOptions-like settings. */
export function hostTuning(
  options: Pick<ConnectOptions, 'tickMs' | 'timeoutMs' | 'votersTarget' | 'secret'>,
): Pick<HostStartOptions, 'tickMs' | 'writeTimeoutMs' | 'votersTarget' | 'secret'> {
  return {
    ...(options.tickMs === undefined ? {} : { tickMs: options.tickMs }),
    ...(options.timeoutMs === undefined ? {} : { writeTimeoutMs: options.timeoutMs }),
    ...(options.votersTarget === undefined ? {} : { votersTarget: options.votersTarget }),
    ...(options.secret ? { secret: options.secret } : {}),
  };
}

/**
 * Joins the room for `memberHost`, which has started in this process: one life of the member as
 * `supervise` runs it. If joining fails the host leaves and the error is thrown.
 */
export async function joinInProcess(
  memberHost: MemberHost,
  platform: RoomPlatform,
  session: RoomSessionOptions,
): Promise<Incarnation> {
  const { host, closePorts } = hostLink(memberHost);
  let joined;
  try {
    joined = await joinRoom(host, platform, session);
  } catch (error) {
    await memberHost.leave().catch(() => undefined);
    closePorts();
    throw error;
  }
  let markStopped: () => void = () => undefined;
  const whenStopped = new Promise<void>((resolve) => (markStopped = resolve));
  let stopped: Promise<void> | null = null;
  return {
    memberId: session.memberId,
    host,
    mesh: joined.mesh,
    signaling: joined.signaling,
    lane: joined.lane,
    persistence: { answer: 'unsupported' },
    whenStopped,
    stop: (leave) =>
      (stopped ??= (async () => {
        markStopped();
        await joined.stop(leave);
        closePorts();
      })()),
  };
}

/**
 * The host as the room session calls it: through comlink over a MessageChannel, as a tab calls
 * its worker; or, where MessagePorts cannot be transferred (workerd: "Transfer list is not
 * supported", and the session hands the host its KV lane's port), by calling it directly, each
 * call answered in a later microtask as comlink would.
 */
function hostLink(memberHost: MemberHost): {
  host: Remote<MemberHost>;
  closePorts: () => void;
} {
  if (!canTransferPorts()) {
    const host = new Proxy(memberHost, {
      get(target, key) {
        if (key === releaseProxy || key === 'then') return undefined;
        const value: unknown = Reflect.get(target, key, target);
        if (typeof value !== 'function') return Promise.resolve(value);
        return (...args: unknown[]) =>
          Promise.resolve().then(() => (value as (...a: unknown[]) => unknown).apply(target, args));
      },
    }) as unknown as Remote<MemberHost>;
    return { host, closePorts: () => undefined };
  }
  const ports = new MessageChannel();
  expose(memberHost, ports.port1);
  const host = wrap<MemberHost>(ports.port2);
  return {
    host,
    closePorts: () => {
      host[releaseProxy]();
      ports.port1.close();
      ports.port2.close();
    },
  };
}

function canTransferPorts(): boolean {
  const probe = new MessageChannel();
  const carried = new MessageChannel();
  try {
    probe.port1.postMessage(null, [carried.port1]);
    return true;
  } catch {
    return false;
  } finally {
    for (const port of [probe.port1, probe.port2, carried.port1, carried.port2]) port.close();
  }
}

/** A new member id: `prefix-` and 12 hex digits (`n-` a Node member, `e-` an edge member). */
export function newMemberId(prefix: 'n' | 'e'): MemberId {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return `${prefix}-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}
