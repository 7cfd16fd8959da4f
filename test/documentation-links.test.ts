// No relative link in the documentation (README.md, docs/*.md, SECURITY.md, CONTRIBUTING.md, CHANGELOG.md) is broken:
// the file it names exists, and its `#anchor` is a heading of the target file both on GitHub and in typedoc's pages.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { documentationFiles, githubSlug, headingAnchors, relativeLinks, REPOSITORY_ROOT as root, typedocSlug } from './support/markdown';

/** Every broken relative link of the documentation, as `file:line: target (why)`. */
function brokenLinks(): string[] {
  const broken: string[] = [];
  for (const { path, text } of documentationFiles()) {
    for (const { target, line } of relativeLinks(text)) {
      const [filePart = '', anchor] = target.split('#', 2);
      const file = filePart === '' ? join(root, path) : join(filePart.startsWith('/') ? root : dirname(join(root, path)), decodeURI(filePart));
      const where = `${path}:${line}: ${target}`;
      if (!existsSync(file)) {
        broken.push(`${where} (no file ${relative(root, file)})`);
      } else if (!statSync(file).isFile()) {
        broken.push(`${where} (a folder: typedoc copies only files, so link a file in it)`);
      } else if (anchor !== undefined) {
        const text = readFileSync(file, 'utf8');
        const wanted = decodeURIComponent(anchor);
        if (!file.endsWith('.md')) broken.push(`${where} (an anchor into a file that is not Markdown)`);
        else if (!headingAnchors(text, githubSlug).has(wanted)) broken.push(`${where} (no heading #${anchor} in ${relative(root, file)} on GitHub)`);
        else if (!headingAnchors(text, typedocSlug).has(wanted)) {
          broken.push(`${where} (typedoc's anchor for that heading differs: it drops \`code\`, so keep code out of a linked heading)`);
        }
      }
    }
  }
  return broken;
}

test('the documentation files are there, with relative links to check', () => {
  const paths = documentationFiles().map((file) => file.path);
  for (const path of ['README.md', 'SECURITY.md', 'CONTRIBUTING.md', 'CHANGELOG.md']) expect(paths).toContain(path);
  expect(paths.filter((path) => path.startsWith('docs/')).length).toBeGreaterThanOrEqual(6);
  expect(documentationFiles().flatMap((file) => relativeLinks(file.text)).length).toBeGreaterThanOrEqual(20);
});

test('anchors follow GitHub and typedoc: lower case, punctuation dropped, spaces as hyphens, repeats numbered', () => {
  expect(githubSlug('When Redis misbehaves')).toBe('when-redis-misbehaves');
  expect(githubSlug('Signing keys, rotation and the JWKS')).toBe('signing-keys-rotation-and-the-jwks');
  expect(githubSlug('`GET /auth/.well-known/jwks.json`')).toBe('get-authwell-knownjwksjson');
  expect(githubSlug('The security model, in plain words')).toBe('the-security-model-in-plain-words');
  expect(githubSlug('Redis Cluster & [several](x) instances')).toBe('redis-cluster--several-instances');
  expect([...headingAnchors('# Errors\n\n## Codes\n\n```md\n## Not a heading\n```\n\n## Codes\n')]).toEqual(['errors', 'codes', 'codes-1']);
  // typedoc's Slugger leaves code spans out, and makes only the first run of hyphens one.
  expect(typedocSlug('Why `requireAuth` costs less than a no-op')).toBe('why-costs-less-than-a-no-op');
  expect(typedocSlug('Redis, proxies and plain http')).toBe('redis-proxies-and-plain-http');
  expect(typedocSlug('Routes (router mounted at `/auth`)')).toBe('routes-router-mounted-at-');
  expect([...headingAnchors('## A\n\n## A\n', typedocSlug)]).toEqual(['a', 'a-1']);
});

test('no relative link in the documentation is broken: its file exists and its #anchor is a heading there', () => {
  expect(brokenLinks()).toEqual([]);
});
