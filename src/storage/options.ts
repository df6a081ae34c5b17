/**
 * Options of a storage: what a caller set, over the defaults. An option given as `undefined`
 * keeps its default (a spread alone would overwrite it).
 */
export function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(options).filter(([, value]) => value !== undefined),
  ) as Partial<T>;
}
