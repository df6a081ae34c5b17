/**
 * The room-secret proof: its exact definition (checked against Node's own HMAC), what it binds,
 * and its base64url encoding.
 */
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeBase64Url,
  dtlsBinding,
  encodeBase64Url,
  proveRoomSecret,
  sdpFingerprints,
  verifyRoomProof,
} from '../../../src/signaling/auth.js';

const NONCE = 'n'.repeat(43);
const OTHER_NONCE = 'm'.repeat(43);

describe('proveRoomSecret', () => {
  it('is base64url(HMAC-SHA-256(secret, label, purpose, nonce, room, memberId joined by \\n))', async () => {
    const expected = createHmac('sha256', 'hunter2')
      .update(`webraft-room-proof-v1\nsignaling\n${NONCE}\nboard\ntab-1`)
      .digest('base64url');
    await expect(proveRoomSecret('hunter2', NONCE, 'board', 'tab-1')).resolves.toBe(expected);
    expect(expected).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('verifies for the same inputs only', async () => {
    const proof = await proveRoomSecret('hunter2', NONCE, 'board', 'tab-1');
    await expect(verifyRoomProof('hunter2', NONCE, 'board', 'tab-1', proof)).resolves.toBe(true);
    for (const [secret, nonce, room, member] of [
      ['hunter3', NONCE, 'board', 'tab-1'],
      ['hunter2', OTHER_NONCE, 'board', 'tab-1'],
      ['hunter2', NONCE, 'board2', 'tab-1'],
      ['hunter2', NONCE, 'board', 'tab-2'],
    ] as const) {
      await expect(verifyRoomProof(secret, nonce, room, member, proof)).resolves.toBe(false);
    }
  });

  it('separates purposes: a proof made for a peer never passes a signaling check', async () => {
    const forPeer = await proveRoomSecret('s', NONCE, 'board', 'tab-1', 'peer');
    await expect(verifyRoomProof('s', NONCE, 'board', 'tab-1', forPeer)).resolves.toBe(false);
    await expect(verifyRoomProof('s', NONCE, 'board', 'tab-1', forPeer, 'peer')).resolves.toBe(
      true,
    );
  });

  it('binds peer proofs to both ends of the connection: a relay in the middle fails', async () => {
    const sdp = (fingerprint: string) =>
      `v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\na=fingerprint:sha-256 ${fingerprint}\r\na=setup:actpass\r\n`;
    const alice = sdp('AA:11');
    const bob = sdp('bb:22');
    const mallory = sdp('CC:33');
    // Alice's peer proof over a connection bound by `binding`, and Bob's check of it.
    const prove = (binding: string) =>
      proveRoomSecret('s', NONCE, 'board', 'alice', 'peer', binding);
    const verify = (proof: string, binding?: string) =>
      verifyRoomProof('s', NONCE, 'board', 'alice', proof, 'peer', binding);
    // A direct connection: Alice's local and remote SDPs are Bob's remote and local ones.
    const direct = await prove(dtlsBinding(alice, bob));
    await expect(verify(direct, dtlsBinding(alice, bob))).resolves.toBe(true);
    // A signaling server in the middle: Alice is connected to Mallory, Bob is too; Mallory relays
    // Alice's proof to Bob, who sees Mallory's certificate where Alice's should be.
    const relayed = await prove(dtlsBinding(alice, mallory));
    await expect(verify(relayed, dtlsBinding(mallory, bob))).resolves.toBe(false);
    // And a bound proof never passes unbound.
    await expect(verify(direct)).resolves.toBe(false);
    expect(sdpFingerprints(bob)).toBe('sha-256/BB:22');
    expect(sdpFingerprints('v=0\r\n')).toBe('-');
    await expect(proveRoomSecret('s', NONCE, 'board', 'alice', 'peer', 'a\nb')).rejects.toThrow(
      RangeError,
    );
  });

  it('refuses inputs that would make the proof ambiguous or empty', async () => {
    await expect(proveRoomSecret('', NONCE, 'board', 'tab-1')).rejects.toThrow(RangeError);
    await expect(proveRoomSecret('s', 'short', 'board', 'tab-1')).rejects.toThrow(RangeError);
    await expect(proveRoomSecret('s', NONCE, 'bo\nard', 'tab-1')).rejects.toThrow(RangeError);
    await expect(proveRoomSecret('s', NONCE, 'board', '')).rejects.toThrow(RangeError);
  });

  it('verification answers false, never throws, for malformed proofs', async () => {
    for (const proof of ['', 'x', 'A'.repeat(42), 'A'.repeat(44), '!'.repeat(43), 'é'.repeat(43)]) {
      await expect(verifyRoomProof('s', NONCE, 'board', 'tab-1', proof)).resolves.toBe(false);
    }
    await expect(verifyRoomProof('', NONCE, 'board', 'tab-1', 'A'.repeat(43))).resolves.toBe(false);
  });
});

describe('base64url', () => {
  it('encodes as Node does (unpadded) and decodes back', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        const text = encodeBase64Url(bytes);
        expect(text).toBe(Buffer.from(bytes).toString('base64url'));
        expect(decodeBase64Url(text)).toEqual(bytes);
      }),
      { numRuns: 500 },
    );
  });

  it('refuses characters outside the alphabet and impossible lengths', () => {
    expect(decodeBase64Url('ab+c')).toBeNull();
    expect(decodeBase64Url('ab=')).toBeNull();
    expect(decodeBase64Url('abcde')).toBeNull();
  });
});
