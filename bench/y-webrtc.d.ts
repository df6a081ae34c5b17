/**
 * The little of y-webrtc's API the vs-ywebrtc benchmark uses: y-webrtc 10 is JavaScript with
 * JSDoc and ships no declaration files.
 */
declare module 'y-webrtc' {
  import type * as Y from 'yjs';

  export interface WebrtcProviderOptions {
    signaling?: string[];
    password?: string | null;
    maxConns?: number;
    filterBcConns?: boolean;
    peerOpts?: Record<string, unknown>;
  }

  /** A room's WebRTC connections (y-webrtc's `Room`, the fields read here). */
  export interface WebrtcRoom {
    readonly webrtcConns: Map<string, { readonly connected: boolean; readonly synced: boolean }>;
    readonly bcConns: Set<string>;
    readonly bcconnected: boolean;
  }

  export class WebrtcProvider {
    constructor(roomName: string, doc: Y.Doc, options?: WebrtcProviderOptions);
    readonly room: WebrtcRoom | null;
    destroy(): void;
  }
}
