/**
 * The per-tab Web Worker that will host one Raft member (DESIGN.md, "Layers" and decision 3).
 *
 * Not implemented yet; this module deliberately does nothing. When the vertical slice lands it
 * will:
 * - build the member from the driver (src/runtime), the pure core (src/core), the IndexedDB
 *   storage (src/storage) and the state machine (src/state);
 * - expose the member to the main thread over comlink, for the API in src/client;
 * - receive peer bytes over a MessagePort from the main thread, which owns WebRTC and signaling
 *   (dedicated workers have no RTCPeerConnection), or over a transferred RTCDataChannel where
 *   the browser supports that.
 */

export {};
