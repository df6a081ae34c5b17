/**
 * The permissions the Deno edge host (deno.ts) runs with, in one place: `npm run edge:deno`
 * passes these, and the tests run Deno code of the edge member with no more than these.
 *
 * - net: it serves signaling and raft sockets, and dials other edge members.
 * - env: its settings (EDGE_*, SIGNAL_*), and HOME and TMPDIR for the default directories.
 * - read, write: its data directory (FileStorage); narrow them to it with `=DIR` when deploying.
 * - sys=hostname: the data directory's lock names its holder as pid@host.
 */
export const DENO_EDGE_PERMISSIONS: readonly string[] = [
  '--allow-net',
  '--allow-env',
  '--allow-read',
  '--allow-write',
  '--allow-sys=hostname',
];
