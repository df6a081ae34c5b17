/**
 * y-webrtc's signaling server (its `bin/server.js`, a topic pub/sub over WebSocket) run in
 * process on a free port, for the vs-ywebrtc benchmark. The shipped script listens on
 * `PORT` at import and cannot be closed, so this is the same protocol, message for message:
 * JSON `{type: 'subscribe' | 'unsubscribe', topics}`, `{type: 'publish', topic, ...}` (relayed to
 * every subscriber of the topic, the sender included, with `clients` set to their count) and
 * `{type: 'ping'}` (answered with `{type: 'pong'}`). Its 30 s keep-alive ping is left out: a
 * benchmark run is shorter than one period.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';

interface SignalMessage {
  type?: unknown;
  topics?: unknown;
  topic?: unknown;
  clients?: number;
}

/** Starts the server on 127.0.0.1, port 0; `url` is the ws:// address to give y-webrtc. */
export async function startYWebrtcSignaling(): Promise<{
  url: string;
  close: () => Promise<void>;
}> {
  const topics = new Map<string, Set<WebSocket>>();
  const http = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/plain' });
    response.end('okay');
  });
  const wss = new WebSocketServer({ server: http });
  const send = (conn: WebSocket, message: unknown): void => {
    if (conn.readyState !== conn.OPEN) return;
    conn.send(JSON.stringify(message));
  };
  wss.on('connection', (conn) => {
    const subscribed = new Set<string>();
    conn.on('close', () => {
      for (const name of subscribed) {
        const subscribers = topics.get(name);
        subscribers?.delete(conn);
        if (subscribers?.size === 0) topics.delete(name);
      }
      subscribed.clear();
    });
    conn.on('message', (data) => {
      const message = JSON.parse(String(data)) as SignalMessage | null;
      const names = Array.isArray(message?.topics) ? (message.topics as unknown[]) : [];
      switch (message?.type) {
        case 'subscribe':
          for (const name of names) {
            if (typeof name !== 'string') continue;
            const subscribers = topics.get(name) ?? new Set<WebSocket>();
            topics.set(name, subscribers.add(conn));
            subscribed.add(name);
          }
          break;
        case 'unsubscribe':
          for (const name of names) if (typeof name === 'string') topics.get(name)?.delete(conn);
          break;
        case 'publish': {
          const receivers =
            typeof message.topic === 'string' ? topics.get(message.topic) : undefined;
          if (receivers === undefined) break;
          message.clients = receivers.size;
          for (const receiver of receivers) send(receiver, message);
          break;
        }
        case 'ping':
          send(conn, { type: 'pong' });
      }
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close();
        http.close(() => resolve());
      }),
  };
}
