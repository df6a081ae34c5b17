/**
 * The page's half of the WebRTC mesh (decision 3: RTCPeerConnection exists on the main thread
 * only). One RTCPeerConnection per peer of the room with two reliable, ordered data channels,
 * negotiated on both sides (no `ondatachannel` race): 'auth' (id 0) stays on the page, 'raft'
 * (id 1) is handed to `onRaftChannel` in the task that created it — a data channel can be moved
 * into a worker only then — where it is moved into the member's worker or bridged to it. The
 * member with the smaller id offers; the other answers, so offers never cross. Each attempt has a
 * generation id carried by every signal, so a late signal of an old attempt is ignored.
 *
 * When 'auth' opens, the two peers prove to each other that they know the room secret (HMAC over
 * the other's nonce, purpose 'peer', bound to the DTLS certificates of both ends so a signaling
 * server in the middle cannot relay it; without a secret, each only names itself); only then does
 * `onAuthenticated` say the raft channel of that attempt may carry frames. A closed channel or
 * failed connection is retried with exponential backoff while the peer is in the room; a refused
 * proof is not retried.
 *
 * Native RTCPeerConnection, not simple-peer: the channel must be handed over raw to be moved into
 * the worker, which simple-peer's stream wrapper does not allow, and this saves its Node
 * polyfills in the page bundle.
 */
import type { MemberId } from '../../core/types.js';
import { dtlsBinding, proveRoomSecret, verifyRoomProof } from '../../signaling/auth.js';

/** What the mesh needs from signaling: who is in the room, and a relay to each of them. */
export interface MeshSignaling {
  readonly self: MemberId;
  readonly room: string;
  onPeerJoined(handler: (peer: MemberId) => void): void;
  onPeerLeft(handler: (peer: MemberId) => void): void;
  onSignal(handler: (from: MemberId, payload: unknown) => void): void;
  signal(to: MemberId, payload: MeshSignal): void;
}

/** A relayed WebRTC signal; `gen` names the connection attempt it belongs to. */
export type MeshSignal =
  | {
      readonly kind: 'description';
      readonly gen: string;
      readonly type: 'offer' | 'answer';
      readonly sdp: string;
    }
  | { readonly kind: 'candidate'; readonly gen: string; readonly candidate: RTCIceCandidateInit };

/** What the mesh needs to make a peer connection (the platform's, or a Node package's). */
export type RTCPeerConnectionConstructor = new (
  configuration?: RTCConfiguration,
) => RTCPeerConnection;

export type PeerState = 'connecting' | 'authenticating' | 'open' | 'waiting' | 'refused';

export interface PeerMeshOptions {
  readonly signaling: MeshSignaling;
  /** The room secret both sides must prove; none: peers only name themselves. */
  readonly secret?: string;
  readonly rtcConfiguration?: RTCConfiguration;
  /**
   * Makes the peer connections; default the platform's RTCPeerConnection. Node has none: pass
   * one from a WebRTC package (`@roamhq/wrtc`, see src/node/webrtc.ts).
   */
  readonly RTCPeerConnection?: RTCPeerConnectionConstructor;
  /**
   * The raft channel of a new attempt to reach `peer`, not yet open nor authenticated: move it
   * into the worker (or bridge it) now, in this task. It replaces any earlier one of `peer`.
   */
  readonly onRaftChannel: (peer: MemberId, gen: string, channel: RTCDataChannel) => void;
  /** The peer proved itself on attempt `gen`: its raft channel may carry frames. */
  readonly onAuthenticated: (peer: MemberId, gen: string) => void;
  /** Called when `peer` changes state (for status panels). */
  readonly onPeerState?: (peer: MemberId, state: PeerState) => void;
  /** Retry delays after a failure: from min, doubling, up to max. Default 250 ms .. 5 s. */
  readonly retryDelayMs?: { readonly min: number; readonly max: number };
  /** How long an attempt may take to open and authenticate. Default 10 s. */
  readonly connectTimeoutMs?: number;
}

interface Attempt {
  readonly gen: string;
  readonly pc: RTCPeerConnection;
  /** The handshake channel; the raft channel went to `onRaftChannel`. */
  readonly channel: RTCDataChannel;
  readonly pendingCandidates: RTCIceCandidateInit[];
  remoteSet: boolean;
  /**
   * Resolves once both descriptions are set (the offerer's on the answer, the answerer's on its
   * own answer): the auth channel can open a moment before that settles on one side, and the
   * proofs bind the certificates the descriptions name.
   */
  readonly described: Promise<void>;
  markDescribed(): void;
  timer: ReturnType<typeof setTimeout> | null;
}

interface PeerLink {
  attempt: Attempt | null;
  state: PeerState;
  failures: number;
  retry: ReturnType<typeof setTimeout> | null;
}

const HANDSHAKE_LABEL = 'webraft-peer-v1';

export class PeerMesh {
  private readonly links = new Map<MemberId, PeerLink>();
  private closed = false;
  private readonly self: MemberId;

  constructor(private readonly options: PeerMeshOptions) {
    const { signaling } = options;
    this.self = signaling.self;
    signaling.onPeerJoined((peer) => this.join(peer));
    signaling.onPeerLeft((peer) => this.leave(peer));
    signaling.onSignal((from, payload) => void this.onSignal(from, payload));
  }

  /** Starts connecting to `peer` (the signaling's peer list calls this for every member). */
  join(peer: MemberId): void {
    if (this.closed || peer === this.self) return;
    let link = this.links.get(peer);
    if (link === undefined) {
      link = { attempt: null, state: 'connecting', failures: 0, retry: null };
      this.links.set(peer, link);
    }
    if (this.offers(peer) && link.attempt === null && link.retry === null) this.offer(peer, link);
  }

  /** The peer left the room (or reloads): its connection goes, nothing is retried. */
  leave(peer: MemberId): void {
    const link = this.links.get(peer);
    if (link === undefined) return;
    this.links.delete(peer);
    if (link.retry !== null) clearTimeout(link.retry);
    this.teardown(link);
  }

  /**
   * Drops the connection to `peer` as if it had failed: the side that offers reconnects after
   * its backoff, the other side waits for the new offer. For tests and the demo's fault controls.
   */
  restart(peer: MemberId): void {
    const link = this.links.get(peer);
    if (link?.attempt !== null && link?.attempt !== undefined) this.fail(peer, link, link.attempt);
  }

  states(): Record<MemberId, PeerState> {
    return Object.fromEntries([...this.links].map(([peer, link]) => [peer, link.state]));
  }

  close(): void {
    this.closed = true;
    for (const peer of [...this.links.keys()]) this.leave(peer);
  }

  private offers(peer: MemberId): boolean {
    return this.self < peer;
  }

  private async offer(peer: MemberId, link: PeerLink): Promise<void> {
    const attempt = this.startAttempt(peer, link, newGeneration());
    try {
      await attempt.pc.setLocalDescription(await attempt.pc.createOffer());
      const description = attempt.pc.localDescription!;
      this.options.signaling.signal(peer, {
        kind: 'description',
        gen: attempt.gen,
        type: 'offer',
        sdp: description.sdp,
      });
    } catch {
      this.fail(peer, link, attempt);
    }
  }

  private startAttempt(peer: MemberId, link: PeerLink, gen: string): Attempt {
    this.teardown(link);
    const PeerConnection = this.options.RTCPeerConnection ?? RTCPeerConnection;
    const pc = new PeerConnection(this.options.rtcConfiguration ?? { iceServers: [] });
    const channel = pc.createDataChannel('auth', { negotiated: true, id: 0, ordered: true });
    const raft = pc.createDataChannel('raft', { negotiated: true, id: 1, ordered: true });
    let markDescribed: () => void = () => undefined;
    const described = new Promise<void>((resolve) => (markDescribed = resolve));
    const attempt: Attempt = {
      gen,
      pc,
      channel,
      pendingCandidates: [],
      remoteSet: false,
      described,
      markDescribed,
      timer: setTimeout(
        () => this.fail(peer, link, attempt),
        this.options.connectTimeoutMs ?? 10_000,
      ),
    };
    link.attempt = attempt;
    this.setState(peer, link, 'connecting');
    pc.onicecandidate = (event) => {
      if (event.candidate === null || link.attempt !== attempt) return;
      this.options.signaling.signal(peer, {
        kind: 'candidate',
        gen,
        candidate: event.candidate.toJSON(),
      });
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === 'failed' || pc.connectionState === 'closed')
        this.fail(peer, link, attempt);
    };
    channel.onopen = () => void this.authenticate(peer, link, attempt);
    channel.addEventListener('close', () => this.fail(peer, link, attempt));
    this.options.onRaftChannel(peer, gen, raft);
    return attempt;
  }

  private async onSignal(from: MemberId, payload: unknown): Promise<void> {
    if (this.closed || !isMeshSignal(payload)) return;
    this.join(from);
    const link = this.links.get(from);
    if (link === undefined || link.state === 'refused') return;
    let attempt = link.attempt;
    try {
      if (payload.kind === 'description' && payload.type === 'offer' && !this.offers(from)) {
        if (attempt?.gen !== payload.gen) attempt = this.startAttempt(from, link, payload.gen);
        await attempt.pc.setRemoteDescription({ type: 'offer', sdp: payload.sdp });
        await this.remoteSet(attempt);
        await attempt.pc.setLocalDescription(await attempt.pc.createAnswer());
        attempt.markDescribed();
        this.options.signaling.signal(from, {
          kind: 'description',
          gen: attempt.gen,
          type: 'answer',
          sdp: attempt.pc.localDescription!.sdp,
        });
      } else if (payload.kind === 'description' && payload.type === 'answer') {
        if (attempt?.gen !== payload.gen || attempt.remoteSet) return;
        await attempt.pc.setRemoteDescription({ type: 'answer', sdp: payload.sdp });
        attempt.markDescribed();
        await this.remoteSet(attempt);
      } else if (payload.kind === 'candidate' && attempt?.gen === payload.gen) {
        if (attempt.remoteSet) await attempt.pc.addIceCandidate(payload.candidate);
        else attempt.pendingCandidates.push(payload.candidate);
      }
    } catch {
      if (attempt !== null && link.attempt === attempt) this.fail(from, link, attempt);
    }
  }

  private async remoteSet(attempt: Attempt): Promise<void> {
    attempt.remoteSet = true;
    for (const candidate of attempt.pendingCandidates.splice(0))
      await attempt.pc.addIceCandidate(candidate);
  }

  /** Each side proves the room secret over the other's nonce; then the channel is handed over. */
  private async authenticate(peer: MemberId, link: PeerLink, attempt: Attempt): Promise<void> {
    if (link.attempt !== attempt) return;
    this.setState(peer, link, 'authenticating');
    const { channel } = attempt;
    const { room } = this.options.signaling;
    const secret = this.options.secret;
    const nonce = newGeneration();
    // Proofs name the DTLS certificates at both ends of this connection (see dtlsBinding).
    const binding = async (proving: boolean): Promise<string> => {
      await attempt.described;
      const local = attempt.pc.localDescription?.sdp ?? '';
      const remote = attempt.pc.remoteDescription?.sdp ?? '';
      return proving ? dtlsBinding(local, remote) : dtlsBinding(remote, local);
    };
    let proved = false;
    let verified = false;
    const finish = (): void => {
      if (!proved || !verified || link.attempt !== attempt) return;
      if (attempt.timer !== null) clearTimeout(attempt.timer);
      attempt.timer = null;
      link.failures = 0;
      this.setState(peer, link, 'open');
      this.options.onAuthenticated(peer, attempt.gen);
    };
    channel.onmessage = async (event: MessageEvent<unknown>) => {
      const hello = parseHandshake(event.data);
      if (hello === null) return this.refuse(peer, link, attempt);
      if (hello.step === 'hello') {
        if (hello.member !== peer) return this.refuse(peer, link, attempt);
        const proof =
          secret === undefined
            ? ''
            : await proveRoomSecret(
                secret,
                hello.nonce,
                room,
                this.self,
                'peer',
                await binding(true),
              );
        channel.send(JSON.stringify({ label: HANDSHAKE_LABEL, step: 'proof', proof }));
        proved = true;
      } else {
        const ok =
          secret === undefined ||
          (await verifyRoomProof(
            secret,
            nonce,
            room,
            peer,
            hello.proof,
            'peer',
            await binding(false),
          ));
        if (!ok) return this.refuse(peer, link, attempt);
        verified = true;
      }
      finish();
    };
    channel.send(
      JSON.stringify({ label: HANDSHAKE_LABEL, step: 'hello', member: this.self, nonce }),
    );
  }

  private refuse(peer: MemberId, link: PeerLink, attempt: Attempt): void {
    if (link.attempt !== attempt) return;
    this.teardown(link);
    this.setState(peer, link, 'refused');
  }

  /** This attempt is over; retry later if we offer and the peer is still in the room. */
  private fail(peer: MemberId, link: PeerLink, attempt: Attempt): void {
    if (link.attempt !== attempt || this.closed) return;
    this.teardown(link);
    link.failures++;
    this.setState(peer, link, 'waiting');
    if (!this.offers(peer) || this.links.get(peer) !== link) return;
    const { min, max } = this.options.retryDelayMs ?? { min: 250, max: 5000 };
    const delay = Math.min(max, min * 2 ** (link.failures - 1));
    link.retry = setTimeout(() => {
      link.retry = null;
      if (this.links.get(peer) === link && !this.closed) this.offer(peer, link);
    }, delay);
  }

  private teardown(link: PeerLink): void {
    const attempt = link.attempt;
    if (attempt === null) return;
    link.attempt = null;
    if (attempt.timer !== null) clearTimeout(attempt.timer);
    // Closing the connection closes the raft channel too, wherever it was moved.
    attempt.pc.close();
  }

  private setState(peer: MemberId, link: PeerLink, state: PeerState): void {
    if (link.state === state) return;
    link.state = state;
    this.options.onPeerState?.(peer, state);
  }
}

type Handshake =
  | { readonly step: 'hello'; readonly member: string; readonly nonce: string }
  | { readonly step: 'proof'; readonly proof: string };

function parseHandshake(data: unknown): Handshake | null {
  if (typeof data !== 'string' || data.length > 1024) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(data);
  } catch {
    return null;
  }
  if (typeof raw !== 'object' || raw === null) return null;
  const value = raw as Record<string, unknown>;
  if (value['label'] !== HANDSHAKE_LABEL) return null;
  if (
    value['step'] === 'hello' &&
    typeof value['member'] === 'string' &&
    typeof value['nonce'] === 'string'
  )
    return { step: 'hello', member: value['member'], nonce: value['nonce'] };
  if (value['step'] === 'proof' && typeof value['proof'] === 'string')
    return { step: 'proof', proof: value['proof'] };
  return null;
}

function isMeshSignal(payload: unknown): payload is MeshSignal {
  if (typeof payload !== 'object' || payload === null) return false;
  const value = payload as Record<string, unknown>;
  if (typeof value['gen'] !== 'string' || value['gen'].length > 64) return false;
  if (value['kind'] === 'description')
    return (
      (value['type'] === 'offer' || value['type'] === 'answer') && typeof value['sdp'] === 'string'
    );
  return (
    value['kind'] === 'candidate' &&
    typeof value['candidate'] === 'object' &&
    value['candidate'] !== null
  );
}

/** A random id for an attempt or a nonce: 32 bytes, base64url (the auth nonce pattern). */
function newGeneration(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  let text = '';
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
