// Device labels: a User-Agent reduced to what a person recognises in a list of sessions ("Chrome 131 on Windows").

/** How much of a User-Agent is read: real ones are 100 to 300 characters; the rest cannot change the label. */
const MAX_INPUT_LENGTH = 512;

/** The longest label: enough for `Samsung Internet 25 on Android`, short enough for a list and for Redis. */
export const MAX_DEVICE_LABEL_LENGTH = 40;

/** What a session whose client sent no usable User-Agent is called. */
export const UNKNOWN_DEVICE = 'Unknown device';

/**
 * `name/version` product tokens, anywhere in the string (bots name themselves inside the comment).
 * Every repetition is bounded, so a match attempt is at most ~50 steps whatever the input.
 */
const PRODUCT = /([A-Za-z][\w.+-]{0,39})\/v?(\d{1,9})/g;

/** Browsers by their product token, most specific first: an Edge or Opera UA also names Chrome and Safari. */
const BROWSERS: ReadonlyArray<readonly [token: string, name: string]> = [
  ['EdgA', 'Edge'],
  ['EdgiOS', 'Edge'],
  ['Edg', 'Edge'],
  ['Edge', 'Edge'],
  ['OPR', 'Opera'],
  ['OPT', 'Opera'],
  ['OPiOS', 'Opera'],
  ['SamsungBrowser', 'Samsung Internet'],
  ['Vivaldi', 'Vivaldi'],
  ['YaBrowser', 'Yandex Browser'],
  ['FxiOS', 'Firefox'],
  ['Firefox', 'Firefox'],
  ['CriOS', 'Chrome'],
  ['Chromium', 'Chromium'],
  ['Chrome', 'Chrome'],
];

/** Operating systems by a word of the UA, most specific first: Android and ChromeOS UAs also say Linux, iPhones say "like Mac OS X". */
const SYSTEMS: ReadonlyArray<readonly [word: string, name: string]> = [
  ['iPhone', 'iPhone'],
  ['iPad', 'iPad'],
  ['iPod', 'iPod'],
  ['CrOS', 'ChromeOS'],
  ['Android', 'Android'],
  ['Windows Phone', 'Windows Phone'],
  ['Windows', 'Windows'],
  ['Macintosh', 'macOS'],
  ['Mac OS X', 'macOS'],
  ['FreeBSD', 'FreeBSD'],
  ['OpenBSD', 'OpenBSD'],
  ['Linux', 'Linux'],
];

/** Tokens every browser's UA carries for compatibility: they say nothing about which program it is. */
const GENERIC_PRODUCTS = new Set(['Mozilla', 'AppleWebKit', 'KHTML', 'Gecko', 'Version', 'Mobile', 'Safari', 'Trident', 'Presto']);

const CONTROL_CHARACTERS = /[\x00-\x1f\x7f]/g;
/** What a name taken from an unknown UA keeps: letters, digits and a few separators, nothing that could mislead on a page. */
const UNSAFE_NAME_CHARACTERS = /[^\w.+-]/g;

/**
 * A short, human label for the client that sent a `User-Agent`: `"<Browser> <major> on <OS>"`
 * (`Chrome 131 on Windows`, `Safari 17 on iPhone`, `Samsung Internet 25 on Android`). A UA that names
 * no browser it knows gives its first product and that product's major version (`curl 8`,
 * `Googlebot 2`), or `Unknown browser on <OS>`; an empty one gives {@link UNKNOWN_DEVICE}. The label
 * holds no control character and at most {@link MAX_DEVICE_LABEL_LENGTH} characters. Only the first
 * 512 characters are read, and every pattern is bounded, so any input costs about the same: it runs
 * on every login, on whatever a client sends.
 *
 * @example
 * ```ts
 * deviceLabel('Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36');
 * // 'Chrome 131 on Windows'
 * deviceLabel('curl/8.4.0'); // 'curl 8'
 * deviceLabel(undefined); // 'Unknown device'
 * ```
 */
export function deviceLabel(userAgent: string | undefined): string {
  const ua = (userAgent ?? '').slice(0, MAX_INPUT_LENGTH).replace(CONTROL_CHARACTERS, ' ').trim();
  if (ua === '') return UNKNOWN_DEVICE;
  const products = new Map<string, string>();
  for (const [, name, major] of ua.matchAll(PRODUCT)) if (!products.has(name as string)) products.set(name as string, major as string);
  const system = SYSTEMS.find(([word]) => ua.includes(word))?.[1];
  const browser = browserOf(products);
  if (browser) return capped(system ? `${browser} on ${system}` : browser);
  const bot = [...products].find(([name]) => /bot|crawl|spider/i.test(name));
  const other = bot ?? [...products].find(([name]) => !GENERIC_PRODUCTS.has(name));
  if (other) return capped(`${other[0]} ${other[1]}`);
  if (system) return capped(`Unknown browser on ${system}`);
  return capped(firstProduct(ua));
}

/** `<Browser> <major>` for the first browser of {@link BROWSERS} the products name; Safari by its `Version/`; else undefined. */
function browserOf(products: ReadonlyMap<string, string>): string | undefined {
  for (const [token, name] of BROWSERS) {
    const major = products.get(token);
    if (major !== undefined) return `${name} ${major}`;
  }
  const version = products.get('Version');
  if (products.has('Opera')) return `Opera ${version ?? products.get('Opera')}`;
  if (products.has('Safari') && version !== undefined) return `Safari ${version}`;
  return undefined;
}

/** The UA's first product (up to a space or comment), its name kept to safe characters and its version to the major: `jest`, `MyApp 3`. */
function firstProduct(ua: string): string {
  const first = ua.split(/[\s(]/, 1)[0] ?? '';
  const slash = first.indexOf('/');
  const name = (slash === -1 ? first : first.slice(0, slash)).replace(UNSAFE_NAME_CHARACTERS, '');
  const major = slash === -1 ? '' : (/^v?(\d{1,9})/.exec(first.slice(slash + 1))?.[1] ?? '');
  if (name === '') return UNKNOWN_DEVICE;
  return major === '' ? name : `${name} ${major}`;
}

function capped(label: string): string {
  return label.length <= MAX_DEVICE_LABEL_LENGTH ? label : label.slice(0, MAX_DEVICE_LABEL_LENGTH).trimEnd();
}
