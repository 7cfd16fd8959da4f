// Builds the browser client (express-refresh-tokens/client) into dist/browser: one self-contained ES module plus its declarations.
//
// The module is bundled with esbuild so it imports nothing: lib/shared/ (the constants and claim copying the server
// and the client share) is inlined at build time, and a page can load dist/browser/client/index.js from a static
// route that serves only its folder, or only the file. tsc emits the declarations beside it (they may import
// ../shared/: TypeScript reads them, browsers never do).
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tsconfig = path.join(root, 'lib', 'client', 'tsconfig.json');
const outDir = path.join(root, 'dist', 'browser');
const require = createRequire(import.meta.url);

/** The client's language level, read from its tsconfig so the bundle targets what the type-check allows (ES2020 -> es2020). */
function targetOf(tsconfigPath) {
  const { compilerOptions } = JSON.parse(readFileSync(tsconfigPath, 'utf8'));
  return compilerOptions.target.toLowerCase();
}

// Start clean, so no module of an older layout (such as a separate shared/protocol.js) is left to be packed.
rmSync(outDir, { recursive: true, force: true });

// Declarations only: the JavaScript comes from esbuild below.
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', tsconfig, '--emitDeclarationOnly'], { stdio: 'inherit' });

await build({
  entryPoints: [path.join(root, 'lib', 'client', 'index.ts')],
  outfile: path.join(outDir, 'client', 'index.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: targetOf(tsconfig),
  // Readable as shipped: a user may open it in devtools or read it before serving it.
  minify: false,
  banner: {
    js:
      '// express-refresh-tokens/client: the browser client, one self-contained ES module (no imports).\n' +
      '// Built from lib/client/index.ts with lib/shared/ inlined; serve this file or its folder to a page.',
  },
  logLevel: 'warning',
});

// dist/browser holds ES modules, while the package root is CommonJS (for Node importing the client by name).
writeFileSync(path.join(outDir, 'package.json'), `${JSON.stringify({ type: 'module' })}\n`);
