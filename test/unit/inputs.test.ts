import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { digestInSidecar, parseChecksumInput } from '../../src/archive/checksum.js';
import { parseVerifyOptions } from '../../src/backup/options.js';
import { parseArgs } from '../../src/cli/args.js';
import { parseDuration } from '../../src/core/duration.js';
import { UserError } from '../../src/core/errors.js';
import { VERSION } from '../../src/core/version.js';
import { majorOf } from '../../src/postgres/binaries.js';
import { finding } from '../../src/report/findings.js';
import { computeVerdict, type StageResult } from '../../src/report/stages.js';
import { SPECS } from '../../src/specs.js';

describe('durations', () => {
  it.each([
    ['26h', 93600],
    ['90m', 5400],
    ['7d', 604800],
    ['1h30m', 5400],
    ['45s', 45],
    ['2w', 1209600],
  ])('%s = %i s', (text, seconds) => expect(parseDuration('max-age', text)).toBe(seconds));
  it.each(['26', 'twenty minutes', '', '5 percent', '-3h', '0h'])(
    '%j is refused with the input named',
    (text) => {
      expect(() => parseDuration('rto-budget', text)).toThrow(
        /^rto-budget: .* is not a duration\. Write a number with a unit/,
      );
    },
  );
});

describe('checksum input and sidecars', () => {
  it('modes, a literal sha256, and a clear refusal of anything else', () => {
    expect(parseChecksumInput('checksum', 'auto')).toEqual({ mode: 'auto' });
    expect(parseChecksumInput('checksum', 'REQUIRED')).toEqual({ mode: 'required' });
    expect(parseChecksumInput('checksum', `sha256:${'AB'.repeat(32)}`)).toEqual({
      mode: 'literal',
      sha256: 'ab'.repeat(32),
    });
    expect(() => parseChecksumInput('checksum', 'xyz')).toThrow(UserError);
    expect(() => parseChecksumInput('checksum', 'a'.repeat(63))).toThrow(/64 hex digits/);
  });
  it('reads sha256sum-style files, picking the line for our file', () => {
    const a = 'a'.repeat(64);
    const b = 'b'.repeat(64);
    expect(digestInSidecar(`${a}  full.dump\n`, 'sha256', 'x/full.dump')).toBe(a);
    expect(digestInSidecar(`${a}\n`, 'sha256', 'full.dump')).toBe(a);
    expect(digestInSidecar(`${a}  one.dump\n${b} *full.dump\n`, 'sha256', 'full.dump')).toBe(b);
    expect(digestInSidecar(`${a}  one.dump\n${b}  two.dump\n`, 'sha256', 'full.dump')).toBeUndefined();
    expect(digestInSidecar('not a digest', 'md5', 'full.dump')).toBeUndefined();
  });
});

describe('command-line flags', () => {
  it('--name value, --name=value, --flag and --no-flag', () => {
    expect(
      parseArgs(['verify', '--source', 'x', '--max-age=2h', '--no-schema-check', '--json']),
    ).toMatchObject({
      command: 'verify',
      flags: { source: 'x', 'max-age': '2h', 'schema-check': 'false' },
    });
  });
  it('a switch takes no value: --keep ./dir is a mistake, not a folder for keep', () => {
    expect(() => parseArgs(['drill', '--source', 'x', '--keep', './dir'])).toThrow(
      /^--keep: takes no value, but "\.\/dir" follows it\. Write --keep alone/,
    );
    expect(parseArgs(['drill', '--keep', '--source', 'x']).flags).toEqual({ keep: 'true', source: 'x' });
    expect(parseArgs(['drill', '--keep', 'false', '--source', 'x']).flags).toEqual({
      keep: 'false',
      source: 'x',
    });
    expect(parseArgs(['drill', '--keep=no']).flags).toEqual({ keep: 'no' });
    expect(() => parseArgs(['verify', '--source'])).toThrow(/^--source: needs a value/);
    expect(() => parseArgs(['verify', '--source', 'x', 'y'])).toThrow(/^y: is not a flag of verify/);
  });
  it('options name the flag, with a suggestion for a typo', () => {
    expect(() => parseVerifyOptions({ source: '.', 'fail-onn': 'low' }, 'flag')).toThrow(
      '--fail-onn: verify has no such flag. Did you mean --fail-on?',
    );
    expect(() => parseVerifyOptions({ source: '.', 'fail-on': 'severe' }, 'input')).toThrow(
      /^fail-on: "severe" is not a severity/,
    );
    expect(() => parseVerifyOptions({ source: '.', 'schema-check': 'maybe' }, 'input')).toThrow(
      /^schema-check: "maybe"/,
    );
  });
});

describe('input specs', () => {
  it.each(SPECS.map((s) => [s.name, s] as const))(
    '%s: every default is a value its schema reads',
    (_, spec) => {
      for (const [name, input] of Object.entries(spec.inputs)) {
        if (input.default === undefined) continue;
        const given = input.schema.safeParse(input.default);
        expect(given.success, `${name}: ${input.default}`).toBe(true);
        expect(input.schema.safeParse(undefined).data, name).toEqual(given.data);
      }
    },
  );
});

describe('verdicts', () => {
  const stage = (status: StageResult['status'], findings = [] as StageResult['findings']): StageResult => ({
    name: 's',
    status,
    seconds: 0,
    findings,
  });
  it('a check that could not run never passes; a failing finding beats it', () => {
    expect(computeVerdict([stage('ok')], 'high')).toBe('pass');
    expect(computeVerdict([stage('ok'), stage('skipped')], 'high')).toBe('pass');
    expect(computeVerdict([stage('ok'), stage('not-run')], 'high')).toBe('could-not-verify');
    const fetch = finding('FETCH_FAILED', 's', 'x');
    expect(computeVerdict([stage('ok', [fetch])], 'high')).toBe('could-not-verify');
    const bad = finding('ARCHIVE_TRUNCATED', 's', 'x');
    expect(computeVerdict([stage('not-run'), stage('failed', [bad])], 'high')).toBe('fail');
    expect(computeVerdict([stage('ok', [finding('CHECKSUM_UNVERIFIED', 's', 'x')])], 'high')).toBe('pass');
    expect(computeVerdict([stage('ok', [finding('CHECKSUM_UNVERIFIED', 's', 'x')])], 'low')).toBe('fail');
    expect(computeVerdict([stage('ok', [{ ...bad, ignored: 'known, ticket 12' }])], 'high')).toBe('pass');
  });
});

describe('versions', () => {
  it('majorOf reads server and tool version strings', () => {
    expect(majorOf('15.20 (Debian 15.20-0+deb12u1)')).toBe(15);
    expect(majorOf('9.6.24')).toBe(9.6);
    expect(majorOf('17beta1')).toBe(17);
  });
  it('VERSION matches package.json', () => {
    expect(VERSION).toBe(
      JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version,
    );
  });
});
