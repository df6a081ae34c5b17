/**
 * What kind of member a peer is, for status panels and the CLI (issue 13): an edge member accepts
 * raft WebSockets (it announced an endpoint; its id starts with `e-`), a Node member's id starts
 * with `n-` (src/node), and anything else is a tab.
 */
import type { MemberId } from '../core/types.js';
import type { PeerInfo } from '../signaling/protocol.js';

export type MemberKind = 'tab' | 'node' | 'edge';

/** The kind of `id`, from what it said of itself in the room when known. */
export function memberKind(id: MemberId, info?: PeerInfo): MemberKind {
  if (info?.endpoint !== undefined || id.startsWith('e-')) return 'edge';
  return id.startsWith('n-') ? 'node' : 'tab';
}
