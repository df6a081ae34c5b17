/**
 * What an installed package needs that the source tree cannot show: `tsc -p tsconfig.build.json`
 * emits src/x.ts as dist/src/x.js, and users' bundlers follow `new Worker(new URL(…,
 * import.meta.url))` to a file that must be in the package. A worker entry outside src, or an
 * export naming a file the build does not emit, works in this repository and fails for every
 * user (the member worker once lived in worker/, and `connect()` could not be bundled from npm).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** The source file tsc compiles to `emitted` (a path under dist/). */
function sourceOf(emitted: string): string {
  return join(root, emitted.replace(/^\.?\/?dist\//, '').replace(/\.(d\.ts|js)$/, '.ts'));
}

describe('the package layout', () => {
  it('every worker a module starts is a source file emitted beside it', () => {
    const workers: string[] = [];
    for (const file of sources(join(root, 'src'))) {
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(
        /new Worker\(\s*new URL\('([^']+)',\s*import\.meta\.url\)/g,
      )) {
        const target = resolve(dirname(file), match[1]!);
        workers.push(relative(root, target));
        expect(match[1], `${relative(root, file)} names a .js file beside it`).toMatch(
          /^\.\/.*\.js$/,
        );
        expect(existsSync(target.replace(/\.js$/, '.ts')), `${relative(root, target)} exists`).toBe(
          true,
        );
      }
    }
    expect(workers).toContain('src/client/member.worker.js');
  });

  it('every export and bin names a file the build emits from src', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      exports: Record<string, { types: string; default: string }>;
      bin?: Record<string, string>;
      files: string[];
    };
    const targets = [
      ...Object.values(pkg.exports).flatMap((entry) => [entry.types, entry.default]),
      ...Object.values(pkg.bin ?? {}),
    ];
    for (const target of targets) {
      expect(target, 'under dist/src, which the package ships').toMatch(/^\.\/dist\/src\//);
      expect(existsSync(sourceOf(target)), `${target} has its source`).toBe(true);
    }
    expect(pkg.files).toEqual(expect.arrayContaining(['dist/src', 'dist/web']));
  });
});
