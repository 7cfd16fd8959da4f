// The device label: a User-Agent reduced to "<Browser> <major> on <OS>", from real User-Agent strings, in bounded time.
import { deviceLabel, MAX_DEVICE_LABEL_LENGTH, UNKNOWN_DEVICE } from '../lib/device-label';

describe('deviceLabel names the browsers people use, by their real User-Agents', () => {
  test.each([
    ['Chrome 131 on Windows', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'],
    ['Chrome 131 on Linux', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'],
    ['Chrome 131 on macOS', 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'],
    ['Chrome 131 on Android', 'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36'],
    [
      'Chrome 131 on iPhone',
      'Mozilla/5.0 (iPhone; CPU iPhone OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1',
    ],
    ['Chrome 130 on ChromeOS', 'Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36'],
    ['Safari 17 on macOS', 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15'],
    [
      'Safari 17 on iPhone',
      'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1',
    ],
    ['Safari 16 on iPad', 'Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1'],
    ['Firefox 133 on Linux', 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0'],
    ['Firefox 133 on Windows', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0'],
    ['Firefox 133 on Android', 'Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0'],
    [
      'Firefox 133 on iPhone',
      'Mozilla/5.0 (iPhone; CPU iPhone OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/133.0 Mobile/15E148 Safari/605.1.15',
    ],
    [
      'Edge 131 on Windows',
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86',
    ],
    [
      'Edge 131 on Android',
      'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36 EdgA/131.0.2903.87',
    ],
    ['Opera 114 on Windows', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36 OPR/114.0.0.0'],
    [
      'Samsung Internet 25 on Android',
      'Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S928B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36',
    ],
  ])('%s', (label, userAgent) => {
    expect(deviceLabel(userAgent)).toBe(label);
  });
});

describe('deviceLabel names other clients by their first product', () => {
  test.each([
    ['curl 8', 'curl/8.4.0'],
    ['python-requests 2', 'python-requests/2.31.0'],
    ['Go-http-client 1', 'Go-http-client/1.1'],
    ['Googlebot 2', 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)'],
    ['bingbot 2', 'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)'],
    ['jest', 'jest'],
    ['MyApp 3', 'MyApp/3.2 (build 77)'],
    ['Unknown browser on iPhone', 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148'],
    ['Mozilla 5', 'Mozilla/5.0'],
  ])('%s', (label, userAgent) => {
    expect(deviceLabel(userAgent)).toBe(label);
  });

  test('no User-Agent, an empty one, or one of spaces and control characters is an unknown device', () => {
    expect(deviceLabel(undefined)).toBe(UNKNOWN_DEVICE);
    expect(deviceLabel('')).toBe(UNKNOWN_DEVICE);
    expect(deviceLabel(' \t\r\n\x00\x1f ')).toBe(UNKNOWN_DEVICE);
    expect(deviceLabel('<>()"')).toBe(UNKNOWN_DEVICE);
  });
});

describe('deviceLabel keeps a label safe to store and show', () => {
  test('strips control characters and markup from what it takes from an unknown client', () => {
    expect(deviceLabel('ev<il>\x1f\x00app/1.0')).toBe('app 1');
    expect(deviceLabel('<b>evil</b>app')).toBe('bevil');
    expect(deviceLabel('<script>alert(1)</script>')).toBe('scriptalert');
    for (const label of [deviceLabel('a\x1fb/2'), deviceLabel('Chrome/1\x1f31')]) expect(label).not.toMatch(/[\x00-\x1f\x7f]/);
  });

  test(`caps the label at ${MAX_DEVICE_LABEL_LENGTH} characters`, () => {
    const label = deviceLabel(`${'x'.repeat(300)}/9`);
    expect(label.length).toBeLessThanOrEqual(MAX_DEVICE_LABEL_LENGTH);
    expect(label).toBe('x'.repeat(MAX_DEVICE_LABEL_LENGTH));
    expect(deviceLabel(`Mozilla/5.0 (Windows NT 10.0) ${'ThisIsAVeryLongProductName'.repeat(3)}/1.0`).length).toBeLessThanOrEqual(MAX_DEVICE_LABEL_LENGTH);
  });

  test('reads only the start of a long User-Agent: a browser named after 512 characters does not count', () => {
    expect(deviceLabel(`${'x '.repeat(300)}Firefox/133.0`)).toBe('x');
  });

  test('10 KB of garbage of several shapes is labelled in bounded time', () => {
    const shapes = [
      'a'.repeat(10_240),
      '/'.repeat(10_240),
      'a/'.repeat(5_120),
      'a1.'.repeat(3_414),
      '('.repeat(10_240),
      'Mozilla/5.0 ('.repeat(800),
      Array.from({ length: 10_240 }, (_, i) => String.fromCharCode(32 + ((i * 7919) % 95))).join(''),
    ];
    for (const garbage of shapes) {
      const started = performance.now();
      for (let round = 0; round < 100; round++) deviceLabel(garbage);
      const perCallMs = (performance.now() - started) / 100;
      expect({ shape: garbage.slice(0, 12), fast: perCallMs < 2 }).toEqual({ shape: garbage.slice(0, 12), fast: true });
      expect(deviceLabel(garbage).length).toBeLessThanOrEqual(MAX_DEVICE_LABEL_LENGTH);
    }
  });
});
