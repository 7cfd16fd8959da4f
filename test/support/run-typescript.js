// Preload (`node --require`) letting a child process run this repository's TypeScript (lib/, test/support/) from source, compiled by esbuild.
'use strict';
const { readFileSync } = require('node:fs');
const { transformSync } = require('esbuild');

// The hook ts-node and others use: Node resolves `./errors` to `./errors.ts` once `.ts` is registered.
require.extensions['.ts'] = (module, filename) => {
  const { code } = transformSync(readFileSync(filename, 'utf8'), { loader: 'ts', format: 'cjs', target: 'node20', sourcefile: filename, sourcemap: 'inline' });
  module._compile(code, filename);
};
