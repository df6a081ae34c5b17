/**
 * The per-tab Web Worker that hosts one Raft member (DESIGN.md, "Layers" and decision 3): the
 * runtime driver, the pure core, IndexedDB storage and the mesh transport, exposed to the page
 * over comlink. The page owns signaling and WebRTC (dedicated workers have no RTCPeerConnection)
 * and moves each authenticated raft channel in here (see src/client/connect.ts). It lives in src so
 * the package ships it as JavaScript beside connect.js, where `new URL('./member.worker.js',
 * import.meta.url)` finds it in any bundler that follows that pattern (vite, webpack, rollup).
 */
import { expose } from 'comlink';
import { MemberHost } from './member-host.js';

expose(new MemberHost());
