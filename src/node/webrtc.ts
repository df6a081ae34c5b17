/**
 * WebRTC for a Node member: Node has no RTCPeerConnection, so the mesh takes one from
 * `@roamhq/wrtc` (a prebuilt libwebrtc binding, an optional dependency of webraft). Loaded only
 * when a Node member starts, so nothing else needs the native module.
 */
import { createRequire } from 'node:module';
import { RaftError } from '../core/errors.js';
import type { RTCPeerConnectionConstructor } from '../transport/webrtc/peer-mesh.js';

/** The package that gives Node an RTCPeerConnection. */
export const WEBRTC_PACKAGE = '@roamhq/wrtc';

/** No RTCPeerConnection in this process: the optional WebRTC package is missing or broken. */
export class WebRtcUnavailableError extends RaftError {
  readonly code = 'WEBRTC_UNAVAILABLE';
  constructor(readonly detail: string) {
    super(
      `a Node member needs WebRTC from ${WEBRTC_PACKAGE} (npm install ${WEBRTC_PACKAGE}), ` +
        `or an RTCPeerConnection passed in: ${detail}`,
    );
    this.name = 'WebRtcUnavailableError';
  }
}

/**
 * The platform's RTCPeerConnection if it has one, else `@roamhq/wrtc`'s, loaded with `load`
 * (Node's require; a test passes one that fails).
 */
export function loadRTCPeerConnection(
  load: (name: string) => unknown = createRequire(import.meta.url),
): RTCPeerConnectionConstructor {
  if (typeof globalThis.RTCPeerConnection === 'function') return globalThis.RTCPeerConnection;
  let loaded: { readonly RTCPeerConnection?: unknown };
  try {
    loaded = (load(WEBRTC_PACKAGE) ?? {}) as typeof loaded;
  } catch (error) {
    throw new WebRtcUnavailableError(error instanceof Error ? error.message : String(error));
  }
  if (typeof loaded.RTCPeerConnection !== 'function')
    throw new WebRtcUnavailableError(`${WEBRTC_PACKAGE} has no RTCPeerConnection`);
  // Its own declarations of the standard interfaces: the same shape as the DOM's, another name.
  return loaded.RTCPeerConnection as RTCPeerConnectionConstructor;
}
