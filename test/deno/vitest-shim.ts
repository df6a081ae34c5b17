/**
 * Just enough of vitest to run a shared suite (the storage conformance suite) inside Deno, where
 * vitest itself does not run: a bundle of the suite with `vitest` aliased to this file registers
 * its tests here, and `runRegistered` runs them one after another and reports each.
 *
 * `toEqual` is vitest's own equality (`equals` with iterable equality, from @vitest/expect), so a
 * test means the same here as under vitest. A matcher the suite starts to use and this file does
 * not know fails that test by name, rather than passing it unchecked.
 */
import { equals, iterableEquality } from '@vitest/expect';

type Body = () => unknown;

interface RegisteredTest {
  readonly name: string;
  readonly body: Body;
  readonly afterEach: readonly Body[];
}

/** How one test ended. */
export interface ShimResult {
  readonly name: string;
  readonly ok: boolean;
  readonly error?: string;
}

const tests: RegisteredTest[] = [];
const afterAlls: Body[] = [];
const path: string[] = [];
let afterEachHooks: Body[] = [];

export function describe(name: string, body: () => void): void {
  path.push(name);
  const outer = afterEachHooks;
  afterEachHooks = [...outer];
  try {
    body();
  } finally {
    afterEachHooks = outer;
    path.pop();
  }
}

export function it(name: string, body: Body): void {
  tests.push({ name: [...path, name].join(' > '), body, afterEach: afterEachHooks });
}
export const test = it;

export function afterEach(hook: Body): void {
  afterEachHooks.push(hook);
}

export function afterAll(hook: Body): void {
  afterAlls.push(hook);
}

/** Runs every registered test in order, then the afterAll hooks. */
export async function runRegistered(): Promise<ShimResult[]> {
  const results: ShimResult[] = [];
  for (const { name, body, afterEach: hooks } of tests) {
    let error: unknown = null;
    try {
      await body();
    } catch (thrown) {
      error = thrown;
    }
    for (const hook of hooks) {
      try {
        await hook();
      } catch (thrown) {
        error ??= thrown;
      }
    }
    results.push(
      error === null ? { name, ok: true } : { name, ok: false, error: describeError(error) },
    );
  }
  for (const hook of afterAlls) await hook();
  return results;
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

class ExpectationError extends Error {
  override name = 'ExpectationError';
}

const show = (value: unknown): string => {
  try {
    return JSON.stringify(value, (_key, v: unknown) =>
      v instanceof Uint8Array ? `Uint8Array(${Array.from(v).join(',')})` : v,
    );
  } catch {
    return String(value);
  }
};

function check(pass: boolean, message: () => string): void {
  if (!pass) throw new ExpectationError(message());
}

/** The matchers the shared suites use. */
export function expect(actual: unknown) {
  return {
    toBe: (expected: unknown) =>
      check(Object.is(actual, expected), () => `expected ${show(actual)} to be ${show(expected)}`),
    toBeNull: () => check(actual === null, () => `expected ${show(actual)} to be null`),
    toEqual: (expected: unknown) =>
      check(
        equals(actual, expected, [iterableEquality]),
        () => `expected ${show(actual)} to equal ${show(expected)}`,
      ),
    toHaveLength: (length: number) =>
      check(
        (actual as { length?: unknown } | null)?.length === length,
        () => `expected length ${length}, got ${show((actual as { length?: unknown }).length)}`,
      ),
    rejects: {
      toThrow: async () => {
        try {
          await (actual as Promise<unknown>);
        } catch {
          return;
        }
        throw new ExpectationError('expected the promise to reject');
      },
    },
  };
}
