/**
 * Bundles the edge hosts of the signaling server into self-contained ES modules, since neither
 * workerd nor Deno resolves our `./x.js` imports of `.ts` sources:
 *   signaling-deno.js     `deno run` it, or hand it to Deno Deploy as the entrypoint
 *   signaling-workerd.js  the Worker and its Durable Object class
 *   edge-deno.js          signaling with edge members on Deno (`npm run edge:deno`)
 *   workerd.capnp         edge/workerd.capnp beside them: `workerd serve <dir>/workerd.capnp`
 *   workerd-edge.capnp    the same with Durable Object storage on disk (edge members)
 * `tsx scripts/build-edge.ts [outDir]`, default dist/edge. Tests build into a directory of their
 * own, so that two runs never overwrite each other's files.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'vite';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

/** The entry of each bundle, by the bundle's file name (without `.js`). */
const ENTRIES = {
  'signaling-deno': 'src/signaling/deno.ts',
  'signaling-workerd': 'src/signaling/workerd.ts',
  'edge-deno': 'src/edge/deno.ts',
} as const;

/** Bundles that keep `node:` imports for their runtime to serve (Deno's node compatibility). */
const NODE_BUILTINS: ReadonlySet<string> = new Set(['edge-deno']);

/** Where the files of a build are. */
export interface EdgeBuild {
  readonly outDir: string;
  readonly denoEntry: string;
  /** Signaling with edge members, on Deno (src/edge/deno.ts). */
  readonly denoEdgeEntry: string;
  readonly workerdConfig: string;
}

/** Builds both bundles and the workerd config into `outDir`. */
export async function buildEdgeBundles(outDir = join(repoRoot, 'dist/edge')): Promise<EdgeBuild> {
  mkdirSync(outDir, { recursive: true });
  // One build per entry: with two entries Rollup would split shared code into a third chunk,
  // which every deployment would then have to upload too.
  for (const [fileName, entry] of Object.entries(ENTRIES)) {
    await bundleModule(entry, outDir, fileName, { nodeBuiltins: NODE_BUILTINS.has(fileName) });
  }
  const workerdConfig = join(outDir, 'workerd.capnp');
  copyFileSync(join(repoRoot, 'edge/workerd.capnp'), workerdConfig);
  // The same Worker with its rooms' storage on disk, for edge members (`npm run edge:workerd`).
  copyFileSync(join(repoRoot, 'edge/workerd-edge.capnp'), join(outDir, 'workerd-edge.capnp'));
  return {
    outDir,
    denoEntry: join(outDir, 'signaling-deno.js'),
    denoEdgeEntry: join(outDir, 'edge-deno.js'),
    workerdConfig,
  };
}

/**
 * Bundles `entry` (a path from the repository root) into one self-contained ES module,
 * `<outDir>/<fileName>.js`: what workerd and Deno load. Tests bundle fixtures of their own with it.
 */
export async function bundleModule(
  entry: string,
  outDir: string,
  fileName: string,
  options: {
    /** Leave `node:` imports to the runtime (Deno); default false. */
    readonly nodeBuiltins?: boolean;
    /** Module names replaced by files (from the repository root), as Vite's resolve.alias. */
    readonly alias?: Readonly<Record<string, string>>;
  } = {},
): Promise<string> {
  await build({
    configFile: false,
    logLevel: 'silent',
    root: repoRoot,
    resolve: {
      alias: Object.fromEntries(
        Object.entries(options.alias ?? {}).map(([name, file]) => [name, join(repoRoot, file)]),
      ),
    },
    build: {
      outDir,
      emptyOutDir: false,
      minify: false,
      target: 'es2022',
      lib: { entry: join(repoRoot, entry), formats: ['es'], fileName: () => `${fileName}.js` },
      rollupOptions: {
        // Deno serves `node:` modules itself; workerd bundles must not import them at all.
        ...(options.nodeBuiltins === true ? { external: [/^node:/] } : {}),
        output: { inlineDynamicImports: true },
      },
    },
  });
  return join(outDir, `${fileName}.js`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const built = await buildEdgeBundles(process.argv[2]);
  console.log(`edge signaling bundles in ${built.outDir}`);
}
