/**
 * Proof of a room secret without sending it: HMAC-SHA-256 over a nonce chosen by the verifier,
 * with Web Crypto only (no Node APIs), so the signaling server, edge runtimes and browser peers
 * (which later verify each other over the data channel) share one primitive.
 *
 *   key   = UTF-8(secret)
 *   input = UTF-8("webraft-room-proof-v1\n" + purpose + "\n" + nonce + "\n" + room + "\n" + memberId)
 *   proof = base64url(HMAC-SHA-256(key, input)), unpadded: 43 characters
 *
 * None of the parts may contain "\n" (ids and nonces are checked against their patterns), so the
 * input is unambiguous. The proof binds the room and the member id, so it cannot be replayed as
 * another member; `purpose` separates contexts, so a peer that is asked to prove itself over a
 * data channel ('peer') cannot be used as an oracle for a signaling handshake ('signaling').
 * Verification uses `crypto.subtle.verify`, which compares in constant time.
 *
 * A `binding` (channel binding) is appended as one more line when given: peers bind their proofs
 * to the DTLS certificates of the connection they prove over (see `dtlsBinding`), so a signaling
 * server that put itself in the middle of a connection (its own certificates in the relayed
 * SDP) cannot relay the two proofs between the real peers: each was made for other certificates.
 */
import { ID_PATTERN, TOKEN_PATTERN } from './protocol.js';

/**
 * What a proof is for; a proof made for one purpose never verifies for another. 'socket' is a
 * raft WebSocket to an edge member (src/transport/websocket/handshake.ts).
 */
export type RoomProofPurpose = 'signaling' | 'peer' | 'socket';

const PROOF_LABEL = 'webraft-room-proof-v1';
const HMAC = { name: 'HMAC', hash: 'SHA-256' } as const;
const utf8 = new TextEncoder();

/**
 * The proof that the caller knows `secret`, for the server's (or a peer's) `nonce`, as member
 * `memberId` of `room`. Throws RangeError for an empty secret or an id or nonce out of pattern.
 */
export async function proveRoomSecret(
  secret: string,
  nonce: string,
  room: string,
  memberId: string,
  purpose: RoomProofPurpose = 'signaling',
  binding?: string,
): Promise<string> {
  const problem = checkProofInputs(secret, nonce, room, memberId, binding);
  if (problem !== null) throw new RangeError(problem);
  const key = await importSecret(secret, 'sign');
  const mac = await subtle().sign(HMAC, key, proofInput(purpose, nonce, room, memberId, binding));
  return encodeBase64Url(new Uint8Array(mac));
}

/**
 * True if `proof` is the proof of `secret` for these inputs. False, never a throw, for a proof or
 * an input that is malformed.
 */
export async function verifyRoomProof(
  secret: string,
  nonce: string,
  room: string,
  memberId: string,
  proof: string,
  purpose: RoomProofPurpose = 'signaling',
  binding?: string,
): Promise<boolean> {
  if (checkProofInputs(secret, nonce, room, memberId, binding) !== null) return false;
  if (typeof proof !== 'string' || !TOKEN_PATTERN.test(proof)) return false;
  const mac = decodeBase64Url(proof);
  if (mac === null) return false;
  const key = await importSecret(secret, 'verify');
  return subtle().verify(HMAC, key, mac, proofInput(purpose, nonce, room, memberId, binding));
}

/**
 * The binding of a peer proof to its connection: the prover's and then the verifier's DTLS
 * certificate fingerprints, as each side's SDP states them. The prover passes (its local SDP,
 * its remote SDP), the verifier (its remote SDP, its local SDP): the same string only if both
 * saw the same two certificates, that is if no one sits in between.
 */
export function dtlsBinding(proverSdp: string, verifierSdp: string): string {
  return `dtls ${sdpFingerprints(proverSdp)} ${sdpFingerprints(verifierSdp)}`;
}

/** The `a=fingerprint` values of `sdp`, normalized and sorted; '-' if there are none. */
export function sdpFingerprints(sdp: string): string {
  const found = [...sdp.matchAll(/^a=fingerprint:(\S+) ([0-9A-Fa-f:]+)\s*$/gm)].map(
    ([, algorithm, value]) => `${algorithm!.toLowerCase()}/${value!.toUpperCase()}`,
  );
  return found.length === 0 ? '-' : [...new Set(found)].sort().join(',');
}

function checkProofInputs(
  secret: string,
  nonce: string,
  room: string,
  memberId: string,
  binding?: string,
) {
  if (binding !== undefined && (typeof binding !== 'string' || binding.includes('\n')))
    return 'malformed binding';
  if (typeof secret !== 'string' || secret.length === 0) return 'the secret must not be empty';
  if (typeof nonce !== 'string' || !TOKEN_PATTERN.test(nonce)) return 'malformed nonce';
  if (typeof room !== 'string' || !ID_PATTERN.test(room)) return 'malformed room id';
  if (typeof memberId !== 'string' || !ID_PATTERN.test(memberId)) return 'malformed member id';
  return null;
}

const proofInput = (
  purpose: RoomProofPurpose,
  nonce: string,
  room: string,
  memberId: string,
  binding?: string,
) =>
  utf8.encode(
    [PROOF_LABEL, purpose, nonce, room, memberId, ...(binding === undefined ? [] : [binding])].join(
      '\n',
    ),
  );

function importSecret(secret: string, usage: 'sign' | 'verify'): Promise<CryptoKey> {
  return subtle().importKey('raw', utf8.encode(secret), HMAC, false, [usage]);
}

function subtle(): SubtleCrypto {
  const subtleCrypto = globalThis.crypto?.subtle;
  if (subtleCrypto === undefined) {
    throw new Error('Web Crypto (crypto.subtle) is unavailable: a secure context is required');
  }
  return subtleCrypto;
}

// ---------------------------------------------------------------------------------------------
// base64url (RFC 4648 section 5, unpadded), written out because atob/btoa work on binary strings
// and Buffer is Node-only.
// ---------------------------------------------------------------------------------------------

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Unpadded base64url text of `bytes`. */
export function encodeBase64Url(bytes: Uint8Array): string {
  let text = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const chunk = ((bytes[i] ?? 0) << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const characters = Math.min(4, Math.ceil(((bytes.length - i) * 8) / 6));
    for (let c = 0; c < characters; c++) text += ALPHABET[(chunk >> (18 - 6 * c)) & 63];
  }
  return text;
}

/** The bytes of unpadded base64url `text`, or null if it is not such text. */
export function decodeBase64Url(text: string): Uint8Array<ArrayBuffer> | null {
  if (text.length % 4 === 1) return null;
  const bytes = new Uint8Array(Math.floor((text.length * 6) / 8));
  let buffer = 0;
  let bits = 0;
  let out = 0;
  for (const character of text) {
    const value = ALPHABET.indexOf(character);
    if (value < 0) return null;
    buffer = ((buffer << 6) | value) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes[out++] = (buffer >> bits) & 0xff;
    }
  }
  return bytes;
}
