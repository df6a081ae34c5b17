# The signaling server with edge members on workerd, for local runs: `npm run edge:workerd`
# (which bundles, then serves this file as copied beside the bundle into dist/edge, with its
# Durable Object storage in ~/.webraft/workerd). The same Worker as workerd.capnp; the difference
# is the storage: on disk, so the rooms named by EDGE_ROOMS keep their edge member's log and id
# across restarts (src/signaling/workerd-edge.ts).
#
# Settings from the environment of the workerd process: EDGE_ROOMS (`*`, `a,b` or JSON room ->
# {"voter": false}), EDGE_ALARM_MS, SIGNAL_ROOM_SECRETS and SIGNAL_BOOTSTRAP_GRACE_MS.
# Address: 127.0.0.1:8787; another one with `--socket-addr http=HOST:PORT`; the storage elsewhere
# with `--directory-path room-storage=PATH` (the directory must exist).
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "signaling", worker = .edgeWorker),
    (name = "room-storage", disk = (path = "room-storage", writable = true)),
  ],
  sockets = [(name = "http", address = "127.0.0.1:8787", http = (), service = "signaling")],
);

const edgeWorker :Workerd.Worker = (
  modules = [(name = "signaling-workerd.js", esModule = embed "signaling-workerd.js")],
  compatibilityDate = "2025-11-01",
  bindings = [
    (name = "ROOMS", durableObjectNamespace = "SignalingRoom"),
    (name = "SIGNAL_ROOM_SECRETS", fromEnvironment = "SIGNAL_ROOM_SECRETS"),
    (name = "SIGNAL_BOOTSTRAP_GRACE_MS", fromEnvironment = "SIGNAL_BOOTSTRAP_GRACE_MS"),
    (name = "EDGE_ROOMS", fromEnvironment = "EDGE_ROOMS"),
    (name = "EDGE_ALARM_MS", fromEnvironment = "EDGE_ALARM_MS"),
  ],
  durableObjectNamespaces = [
    (className = "SignalingRoom", uniqueKey = "webraft-signaling-rooms", enableSql = true),
  ],
  durableObjectStorage = (localDisk = "room-storage"),
);
