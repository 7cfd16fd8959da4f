// The repository's Markdown documentation as the doc tests read it: which files, their code blocks, links and heading anchors.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The repository's root. */
export const REPOSITORY_ROOT = resolve(__dirname, '..', '..');

/** A Markdown file of the documentation: its path from the repository's root and its text. */
export interface DocumentationFile {
  /** e.g. `README.md`, `docs/errors.md`. */
  path: string;
  text: string;
}

/** A fenced code block: its info string's first word (`ts`, `js`, `sh`, …) and the 1-based line of its first code line. */
export interface CodeBlock {
  language: string;
  line: number;
  code: string;
}

/** A relative link or image target, and the 1-based line it is on. */
export interface RelativeLink {
  target: string;
  line: number;
}

/**
 * The documentation a user reads: README.md, SECURITY.md, CONTRIBUTING.md, CHANGELOG.md, bench/README.md
 * and every docs/*.md (not the generated API reference under docs/api/).
 */
export function documentationFiles(root: string = REPOSITORY_ROOT): DocumentationFile[] {
  const docsDir = join(root, 'docs');
  const docs = existsSync(docsDir)
    ? readdirSync(docsDir)
        .filter((name) => name.endsWith('.md'))
        .sort()
        .map((name) => `docs/${name}`)
    : [];
  return ['README.md', 'SECURITY.md', 'CONTRIBUTING.md', 'CHANGELOG.md', 'bench/README.md', ...docs]
    .filter((path) => existsSync(join(root, path)))
    .map((path) => ({ path, text: readFileSync(join(root, path), 'utf8') }));
}

/** Splits a document into fenced code blocks and the prose lines between them (code lines blanked, so line numbers hold). */
function splitFences(markdown: string): { blocks: CodeBlock[]; prose: string[] } {
  const lines = markdown.split('\n');
  const blocks: CodeBlock[] = [];
  const prose = [...lines];
  for (let i = 0; i < lines.length; i++) {
    const open = /^\s*(`{3,}|~{3,})\s*([^\s`]*)/.exec(lines[i] as string);
    if (!open) continue;
    const fence = open[1] as string;
    let end = i + 1;
    while (end < lines.length && !(lines[end] as string).trim().startsWith(fence)) end++;
    blocks.push({ language: (open[2] as string).toLowerCase(), line: i + 2, code: lines.slice(i + 1, end).join('\n') });
    for (let j = i; j <= end && j < lines.length; j++) prose[j] = '';
    i = end;
  }
  return { blocks, prose };
}

/** Every fenced code block, in order. */
export function codeBlocks(markdown: string): CodeBlock[] {
  return splitFences(markdown).blocks;
}

/**
 * Every link and image target outside code that is not absolute (no scheme such as `https:` or `mailto:`):
 * inline `[text](target)`, `![alt](target)`, and reference definitions `[name]: target`.
 */
export function relativeLinks(markdown: string): RelativeLink[] {
  const links: RelativeLink[] = [];
  for (const [index, rawLine] of splitFences(markdown).prose.entries()) {
    const line = rawLine.replace(/`[^`]*`/g, ''); // inline code is not a link
    const targets = [
      ...[...line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((match) => match[1] as string),
      ...[...line.matchAll(/^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/g)].map((match) => match[1] as string),
    ];
    for (const target of targets) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
      links.push({ target, line: index + 1 });
    }
  }
  return links;
}

/** Drops what a heading's anchor never shows: inline HTML and emphasis marks; a link counts as its text. */
function headingText(markdown: string): string {
  return markdown
    .replace(/<[^>]+>/g, '')
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/\*/g, '');
}

/** A heading's anchor on GitHub: its text (code included) lower-cased, punctuation dropped, each space a hyphen. */
export function githubSlug(heading: string): string {
  return headingText(heading)
    .replace(/`/g, '')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/**
 * A heading's anchor in typedoc's pages (its `Slugger`): the text without its code spans, typedoc's punctuation
 * dropped, each white-space character a hyphen, the first run of hyphens made one, lower-cased.
 */
export function typedocSlug(heading: string): string {
  const slug = headingText(heading)
    .replace(/`[^`]*`/g, '')
    .trim()
    .replace(/[\u2000-\u206F\u2E00-\u2E7F\\'!"#$%&()*+,./:;<=>?@[\]^`{|}~]/g, '')
    .replace(/\s/g, '-')
    .replace(/--+/, '-');
  return (slug || '_').toLocaleLowerCase();
}

/** Every anchor a document's headings give under one slug rule, repeats numbered `-1`, `-2`, … as GitHub and typedoc number them. */
export function headingAnchors(markdown: string, slug: (heading: string) => string = githubSlug): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of splitFences(markdown).prose) {
    const heading = /^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line);
    if (!heading) continue;
    const base = slug(heading[1] as string);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}
