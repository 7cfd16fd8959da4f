// Every ```ts snippet of the documentation (README.md, docs/*.md, …) compiles as a new user's strict project would:
// `strict`, `module: nodenext`, `skipLibCheck: false`, against the newest @types/node and the built package (dist/).
// Server snippets are checked once as an ES module (.mts) and once as CommonJS (.cts); snippets that import
// `express-refresh-tokens/client` are a page's code, checked as ES modules against the DOM. Errors name the doc's own line.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { codeBlocks, documentationFiles, REPOSITORY_ROOT as root } from './support/markdown';

const run = promisify(execFile);
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const builtTypes = join(root, 'dist', 'index.d.ts');
const packageJson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, { types: string }> };
const builtClientTypes = join(root, packageJson.exports['./client']?.types ?? 'missing');
/** Where the newest @types/node is installed for this test (under the git-ignored .tmp/, reused between runs). */
const latestTypesDir = join(root, '.tmp', 'types-node-latest');

/** Names server snippets use but define elsewhere (the app, the Quick start's `auth`, the app's own user lookup and logger). */
const serverPrelude = `
declare const app: import('express').Express;
declare const auth: import('express-refresh-tokens').Auth;
declare const handler: import('express').RequestHandler;
declare const userId: string;
declare const sessionId: string;
declare const users: { check(username: unknown, password: unknown): Promise<{ id: string; role: string } | null> };
declare const log: { info(fields: object, message: string): void; warn(fields: object, message: string): void };
declare function alertSecurityTeam(event: import('express-refresh-tokens').SessionEvent): void;
`;

/** Names browser snippets use but define elsewhere (the page's form and rendering). */
const browserPrelude = `
declare const username: string;
declare const password: string;
declare function render(state: import('express-refresh-tokens/client').SessionState): void;
declare function showError(message: string): void;
`;

interface Snippet {
  /** The doc's path from the repository root, e.g. `docs/keys.md`. */
  file: string;
  /** The doc's line of the snippet's first code line. */
  line: number;
  code: string;
}

const snippets: Snippet[] = documentationFiles().flatMap(({ path, text }) =>
  codeBlocks(text)
    .filter((block) => ['ts', 'typescript'].includes(block.language))
    .map((block) => ({ file: path, line: block.line, code: block.code })),
);
const isBrowserSnippet = (snippet: Snippet): boolean => /from\s+['"]express-refresh-tokens\/client['"]/.test(snippet.code);

/** A file is a module only with an import or export; a fragment without one gets `export {}`. */
function asModule(code: string): string {
  return /^\s*(import|export)\b/m.test(code) ? `${code}\n` : `${code}\n\nexport {};\n`;
}

let workDir: string;

beforeAll(async () => {
  mkdirSync(latestTypesDir, { recursive: true });
  // What `npm install @types/node` gives a new project today; from npm's cache when it is fresh.
  await run(
    'npm',
    ['install', '--prefer-offline', '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--prefix', latestTypesDir, '@types/node@latest'],
    {
      cwd: latestTypesDir,
    },
  );
  mkdirSync(join(root, '.tmp'), { recursive: true });
  // Inside the repository, so express, ioredis, jsonwebtoken and @types/express resolve from its node_modules.
  workDir = mkdtempSync(join(root, '.tmp', 'documentation-snippets-'));
}, 60_000);

afterAll(() => rmSync(workDir, { recursive: true, force: true }));

/**
 * Writes each snippet to `<dir>/snippet-<n>.<ext>` for every extension, compiles them with the given options,
 * and returns tsc's errors with each snippet file replaced by the doc's file, line and column.
 */
async function compileSnippets(name: string, group: Snippet[], extensions: string[], prelude: string, options: object): Promise<string> {
  const dir = join(workDir, name);
  mkdirSync(dir);
  const files = new Map<string, Snippet>();
  for (const [index, snippet] of group.entries()) {
    for (const ext of extensions) {
      const fileName = `snippet-${index + 1}.${ext}`;
      writeFileSync(join(dir, fileName), asModule(snippet.code));
      files.set(fileName, snippet);
    }
  }
  writeFileSync(join(dir, 'prelude.d.ts'), prelude);
  const compilerOptions = { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'ES2022', noEmit: true, skipLibCheck: false, ...options };
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['prelude.d.ts', ...files.keys()] }));

  let output = '';
  try {
    await run(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json'), '--pretty', 'false'], { cwd: dir, encoding: 'utf8' });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    output = `${stdout ?? ''}${stderr ?? ''}` || String(error);
  }
  return (
    output
      .split('\n')
      .filter((line) => line.trim() !== '')
      // Top-level await is ESM-only: in the CommonJS copies that one error is expected, and only that one.
      .filter((line) => !/^snippet-\d+\.cts\(\d+,\d+\): error TS1309:/.test(line))
      // e.g. "docs/keys.md:29:85 (as ESM): error TS2304: Cannot find name 'x'."; a declaration file by its path in the repository.
      .map((line) =>
        line
          .replace(/^(snippet-\d+\.(mts|cts))\((\d+),(\d+)\)/, (_all, fileName: string, ext: string, row: string, col: string) => {
            const snippet = files.get(fileName) as Snippet;
            return `${snippet.file}:${snippet.line + Number(row) - 1}:${col} (as ${ext === 'mts' ? 'ESM' : 'CommonJS'})`;
          })
          .replace(/^(\.\.\/\S+?)\((\d+),(\d+)\)/, (_all, path: string, row: string, col: string) => `${relative(root, resolve(dir, path))}:${row}:${col}`),
      )
      .join('\n')
  );
}

test('the README and docs/ have TypeScript snippets to check, for the server and for the browser', () => {
  const files = new Set(snippets.map((snippet) => snippet.file));
  expect(files).toContain('README.md');
  expect([...files].some((file) => file.startsWith('docs/'))).toBe(true);
  expect(snippets.filter(isBrowserSnippet).length).toBeGreaterThanOrEqual(1);
  expect(snippets.filter((snippet) => !isBrowserSnippet(snippet)).length).toBeGreaterThanOrEqual(5);
});

test('every TypeScript snippet compiles under strict with skipLibCheck off and the newest @types/node: server ones as ESM and CommonJS, browser ones against the DOM', async () => {
  expect(existsSync(builtTypes)).toBe(true); // `npm run build` first (npm test's pretest does)
  expect(existsSync(builtClientTypes)).toBe(true);
  const latest = JSON.parse(readFileSync(join(latestTypesDir, 'node_modules', '@types', 'node', 'package.json'), 'utf8')) as { version: string };
  expect(Number(latest.version.split('.')[0])).toBeGreaterThanOrEqual(25); // the majors without node:crypto's JsonWebKey

  const [server, browser] = await Promise.all([
    compileSnippets(
      'server',
      snippets.filter((snippet) => !isBrowserSnippet(snippet)),
      ['mts', 'cts'],
      serverPrelude,
      {
        lib: ['ES2022'], // a server: no DOM globals such as `alert`
        typeRoots: [join(latestTypesDir, 'node_modules', '@types')],
        types: ['node'],
        paths: { 'express-refresh-tokens': [builtTypes] },
      },
    ),
    compileSnippets('browser', snippets.filter(isBrowserSnippet), ['mts'], browserPrelude, {
      lib: ['ES2022', 'DOM', 'DOM.Iterable'], // a page: the DOM, and no Node types
      types: [],
      paths: { 'express-refresh-tokens/client': [builtClientTypes] },
    }),
  ]);
  expect({ server, browser }).toEqual({ server: '', browser: '' });
}, 60_000);
