/**
 * One line per log entry, for the demo's log view and for convergence checks that compare logs:
 * `put <key> = <JSON value>`, `cas <key> → <JSON value>`, `delete <key>`, …
 */
import { decodeEnvelope } from '../runtime/envelope.js';
import { decodeKvCommand } from '../state/kv-codec.js';

/** A short description of an entry for the log view. */
export function summarizeEntry(kind: string, data: Uint8Array): string {
  if (kind === 'noop') return 'no-op (new leader)';
  if (kind === 'config') return `configuration ${new TextDecoder().decode(data)}`;
  const envelope = decodeEnvelope(data);
  if (envelope === null) return 'unreadable entry';
  const decoded = decodeKvCommand(envelope.command);
  if (!decoded.ok) return `refused command (${decoded.code})`;
  const command = decoded.command;
  if (command.type !== 'op') return command.type;
  const op = command.op;
  if (op.type === 'put') return `put ${op.key} = ${clipSummaryValue(JSON.stringify(op.value))}`;
  if (op.type === 'cas') return `cas ${op.key} → ${clipSummaryValue(JSON.stringify(op.next))}`;
  return 'key' in op ? `${op.type} ${op.key}` : op.type;
}

/** Values longer than this are cut in a summary (the log view is one line per entry). */
export const SUMMARY_VALUE_CHARS_MAX = 60;

/** A JSON text as a summary shows it: cut to SUMMARY_VALUE_CHARS_MAX with an ellipsis. */
export function clipSummaryValue(text: string): string {
  return text.length <= SUMMARY_VALUE_CHARS_MAX
    ? text
    : `${text.slice(0, SUMMARY_VALUE_CHARS_MAX - 1)}…`;
}
