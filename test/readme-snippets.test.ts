// Every ```ts snippet of README.md type-checks under `strict` with `module: nodenext`, as a new user's
// project would: each is written to its own file, once as an ES module (.mts) and once as CommonJS
// (.cts), and the TypeScript compiler checks them against the built package (dist/, which `pretest` builds).
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const root = resolve(__dirname, '..');
const readme = join(root, 'README.md');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const builtTypes = join(root, 'dist', 'index.d.ts');

/**
 * Names the fragments use but define elsewhere (the app, the `auth` of the Quick start, the app's own
 * user lookup). Global declarations, so a snippet that defines the name itself shadows them.
 */
const prelude = `
declare const app: import('express').Express;
declare const auth: import('express-refresh-tokens').Auth;
declare const handler: import('express').RequestHandler;
declare const userId: string;
declare const sessionId: string;
declare const users: { check(username: unknown, password: unknown): Promise<{ id: string; role: string } | null> };
declare function alertSecurityTeam(event: import('express-refresh-tokens').SessionEvent): void;
`;

interface Snippet {
  /** README.md line of the snippet's first code line. */
  line: number;
  code: string;
}

/** Every fenced block tagged ts or typescript, in order. */
function extractSnippets(markdown: string): Snippet[] {
  const snippets: Snippet[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*(\S*)/.exec(lines[i] as string);
    if (!open) continue;
    const fence = open[2] as string;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !(lines[end] as string).trim().startsWith(fence)) end++;
    if (['ts', 'typescript'].includes((open[3] as string).toLowerCase())) {
      snippets.push({ line: start + 1, code: lines.slice(start, end).join('\n') });
    }
    i = end;
  }
  return snippets;
}

/** A file is a module only with an import or export; a fragment without one gets `export {}`. */
function asModule(code: string): string {
  return /^\s*(import|export)\b/m.test(code) ? `${code}\n` : `${code}\n\nexport {};\n`;
}

const snippets = extractSnippets(readFileSync(readme, 'utf8'));
let workDir: string;

beforeAll(() => {
  mkdirSync(join(root, '.tmp'), { recursive: true });
  // Inside the repository, so express, ioredis and @types/* resolve from its node_modules.
  workDir = mkdtempSync(join(root, '.tmp', 'readme-snippets-'));
});

afterAll(() => rmSync(workDir, { recursive: true, force: true }));

test('the README has TypeScript snippets to check', () => {
  expect(snippets.length).toBeGreaterThanOrEqual(3);
});

test('every TypeScript snippet of the README compiles under strict, as ESM and as CommonJS', async () => {
  expect(existsSync(builtTypes)).toBe(true); // `npm run build` first (npm test's pretest does)

  const files = new Map<string, Snippet>();
  for (const [index, snippet] of snippets.entries()) {
    for (const ext of ['mts', 'cts']) {
      const name = `snippet-${index + 1}.${ext}`;
      writeFileSync(join(workDir, name), asModule(snippet.code));
      files.set(name, snippet);
    }
  }
  writeFileSync(join(workDir, 'prelude.d.ts'), prelude);
  writeFileSync(
    join(workDir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'ES2022',
        lib: ['ES2022'], // a server: no DOM globals such as `alert`
        noEmit: true,
        skipLibCheck: true,
        types: ['node'],
        paths: { 'express-refresh-tokens': [builtTypes] },
      },
      files: ['prelude.d.ts', ...files.keys()],
    }),
  );

  let output = '';
  try {
    await promisify(execFile)(process.execPath, [tsc, '-p', join(workDir, 'tsconfig.json'), '--pretty', 'false'], {
      cwd: workDir,
      encoding: 'utf8',
    });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    output = `${stdout ?? ''}${stderr ?? ''}` || String(error);
  }

  // Top-level await is ESM-only: in the CommonJS copies that one error is expected, and only that one.
  const errors = output
    .split('\n')
    .filter((line) => line.trim() !== '')
    .filter((line) => !/^snippet-\d+\.cts\(\d+,\d+\): error TS1309:/.test(line));

  // Point each error at README.md's own line, e.g. "README.md:29:85 (as ESM): error TS2304: ...".
  const located = errors.map((line) =>
    line.replace(/^(snippet-\d+\.(mts|cts))\((\d+),(\d+)\)/, (_all, name: string, ext: string, row: string, col: string) => {
      const snippet = files.get(name) as Snippet;
      return `README.md:${snippet.line + Number(row) - 1}:${col} (as ${ext === 'mts' ? 'ESM' : 'CommonJS'})`;
    }),
  );
  expect(located.join('\n')).toBe('');
}, 30_000);
