# The signaling server on workerd, for local runs: `npm run signal:workerd` (which bundles, then
# serves this file as copied beside the bundle into dist/edge). The Worker routes each WebSocket
# by its ?room= to a Durable Object of class SignalingRoom (src/signaling/workerd.ts).
#
# Address: 127.0.0.1:8787; another one with `--socket-addr http=HOST:PORT`.
# Settings come from the environment of the workerd process, as for the Node host:
# SIGNAL_ROOM_SECRETS (JSON room -> secret) and SIGNAL_BOOTSTRAP_GRACE_MS.
# Durable Object storage is in memory: it only remembers whether a room had members (for the
# bootstrap grace after a restart), which a local process forgets with everything else anyway.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [(name = "signaling", worker = .signalingWorker)],
  sockets = [(name = "http", address = "127.0.0.1:8787", http = (), service = "signaling")],
);

const signalingWorker :Workerd.Worker = (
  modules = [(name = "signaling-workerd.js", esModule = embed "signaling-workerd.js")],
  compatibilityDate = "2025-11-01",
  bindings = [
    (name = "ROOMS", durableObjectNamespace = "SignalingRoom"),
    (name = "SIGNAL_ROOM_SECRETS", fromEnvironment = "SIGNAL_ROOM_SECRETS"),
    (name = "SIGNAL_BOOTSTRAP_GRACE_MS", fromEnvironment = "SIGNAL_BOOTSTRAP_GRACE_MS"),
    (name = "EDGE_ROOMS", fromEnvironment = "EDGE_ROOMS"),
    (name = "EDGE_ALARM_MS", fromEnvironment = "EDGE_ALARM_MS"),
  ],
  durableObjectNamespaces = [(className = "SignalingRoom", uniqueKey = "webraft-signaling-rooms")],
  durableObjectStorage = (inMemory = void),
);
