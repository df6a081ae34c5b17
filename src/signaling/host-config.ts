/**
 * The signaling server's settings as every host reads them: from Node's `process.env`, from
 * `Deno.env`, or from a Worker's bindings. Hosts differ in where text comes from, not in what it
 * means, so one parser serves all three and a setting behaves the same on each.
 *
 * SIGNAL_ROOM_SECRETS: a JSON object of room -> secret for rooms that require a proof.
 * SIGNAL_BOOTSTRAP_GRACE_MS: milliseconds after a start during which no bootstrapper is named.
 */

/** Reads one setting as text; undefined (or '') when it is not set. */
export type SettingReader = (name: string) => string | undefined;

/** The settings every host shares. */
export interface HostSettings {
  /** Room -> secret, or undefined when no room has one. */
  readonly secrets: Readonly<Record<string, string>> | undefined;
  /** Undefined: the default of limits.ts. */
  readonly bootstrapGraceMs: number | undefined;
}

/** Parses the shared settings; throws (RangeError, TypeError) on text that cannot be meant. */
export function readHostSettings(read: SettingReader): HostSettings {
  return {
    secrets: roomSecretsFrom(read('SIGNAL_ROOM_SECRETS')),
    bootstrapGraceMs: bootstrapGraceMsFrom(read('SIGNAL_BOOTSTRAP_GRACE_MS')),
  };
}

/** SIGNAL_ROOM_SECRETS: a JSON object of room -> secret, or undefined when unset. */
export function roomSecretsFrom(text: string | undefined): Record<string, string> | undefined {
  if (text === undefined || text === '') return undefined;
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new TypeError('SIGNAL_ROOM_SECRETS must be a JSON object of room -> secret');
  }
  return parsed as Record<string, string>; // room-secrets.ts checks every secret is a non-empty string
}

/** SIGNAL_BOOTSTRAP_GRACE_MS: milliseconds >= 0, or undefined when unset. */
export function bootstrapGraceMsFrom(text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  const graceMs = Number(text);
  if (!Number.isSafeInteger(graceMs) || graceMs < 0) {
    throw new RangeError(`SIGNAL_BOOTSTRAP_GRACE_MS must be milliseconds (>= 0), got ${text}`);
  }
  return graceMs;
}

/** SIGNAL_PORT: a port number, or `fallback` when unset. */
export function portFrom(text: string | undefined, fallback: number): number {
  if (text === undefined || text === '') return fallback;
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new RangeError(`SIGNAL_PORT must be a port number (0-65535), got ${text}`);
  }
  return port;
}
