// The order of the runs in each round: the contenders a target compares form a group whose slices interleave (alternating which goes first), and the groups rotate from round to round.
'use strict';

const { baseContender } = require('./config');

/** Contenders that run next to each other; every other contender is a group of its own. */
const GROUPS = [
  ['bare', 'noop', 'requireAuth', 'noop+req.auth', 'requireAuth@baseline'], // noop sits next to requireAuth in either direction
  ['refresh-floor-mounted', 'refresh+dpop', 'refresh', 'refresh-floor', 'refresh@baseline'], // refresh sits next to refresh-floor and refresh+dpop
  ['requireAuth-no-telemetry', 'requireAuth+otel'],
  ['refresh-no-telemetry', 'refresh+otel'],
];

/**
 * The groups of round `round` (0-based), in the order they run, each group's contenders in the
 * order their slices alternate: groups rotate from round to round, and every other round a group
 * runs in reverse.
 */
function roundGroups(contenders, round) {
  const selected = new Set(contenders);
  const grouped = new Set(GROUPS.flat());
  const groups = [
    ...GROUPS.map((group) => group.filter((name) => selected.has(name))).filter((group) => group.length > 0),
    ...contenders.filter((name) => !grouped.has(name)).map((name) => [name]),
  ];
  const shift = round % groups.length;
  const rotated = [...groups.slice(shift), ...groups.slice(0, shift)];
  return rotated.map((group) => (round % 2 === 0 ? group : [...group].reverse()));
}

/** requireAuth's group but requireAuth (on any build): the routes that get the very requests requireAuth gets. */
const MIDDLEWARE_REFERENCES = GROUPS.find((group) => group.includes('requireAuth')).filter((name) => baseContender(name) !== 'requireAuth');

module.exports = { GROUPS, MIDDLEWARE_REFERENCES, roundGroups };
