import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { junitXml } from '../../src/report/junit.js';
import { xmlAttr, xmlText } from '../../src/report/xml.js';

/** Parse with expat, which refuses what XML 1.0 forbids; print each failure's message and text. */
const PARSE = `
import sys, json, xml.dom.minidom as m
doc = m.parseString(sys.stdin.buffer.read())
out = [[f.getAttribute('message'), ''.join(n.data for n in f.childNodes)] for f in doc.getElementsByTagName('failure')]
print(json.dumps(out))
`;

function strictParse(xml: string): { ok: boolean; failures: [string, string][]; error: string } {
  const r = spawnSync('python3', ['-c', PARSE], { input: Buffer.from(xml, 'utf8'), encoding: 'utf8' });
  return { ok: r.status === 0, failures: r.status === 0 ? JSON.parse(r.stdout) : [], error: r.stderr };
}

const hostile =
  'ERROR:\u0000 bad\u0007 byte \u001b[31m<x> & "q" \'s\'\ttab\r\nnext \uD800 lone \uFFFE\uFFFF 😀 ok';
const report = (message: string) =>
  junitXml(
    {
      command: 'drill',
      verdict: 'fail',
      failOn: 'high',
      startedAt: 'now',
      totalSeconds: 1,
      findings: [],
      stages: [
        {
          name: `restore${'\u0001'}`,
          status: 'failed',
          seconds: 1,
          findings: [{ rule: 'RESTORE_ERROR', severity: 'high', stage: 'restore', message }],
        },
        { name: 'counts', status: 'skipped', seconds: 0, findings: [], reason: 'no <target>\u000b' },
      ],
    },
    'suite \'a\' & "b"',
  );

describe('XML escaping', () => {
  it('escapes the five specials and drops what XML 1.0 forbids', () => {
    expect(xmlText(`<a href="x">&'`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&apos;');
    expect(xmlText('a\u0000b\u0008c\u000bd\u000ce\u001ff\u007fg')).toBe('abcdef\u007fg');
    expect(xmlText('t\tl\nr\r')).toBe('t\tl\nr\r');
    expect(xmlText('\uD800x\uDFFFy\uFFFE\uFFFFz')).toBe('xyz');
    expect(xmlText('😀 \uD83D\uDE00 \uFFFD \uE000')).toBe('😀 😀 \uFFFD \uE000');
    expect(xmlAttr('a\tb\nc\rd')).toBe('a&#9;b&#10;c&#13;d');
  });
  it('a report whose stderr holds control characters is XML a strict parser reads back', () => {
    const xml = report(hostile);
    expect(strictParse(`<a>${'\u0001'}</a>`).ok).toBe(false);
    const parsed = strictParse(xml);
    expect(parsed.error).toBe('');
    const kept = 'ERROR: bad byte [31m<x> & "q" \'s\'\ttab\r\nnext  lone  😀 ok';
    expect(parsed.failures).toEqual([
      [`RESTORE_ERROR: ${kept}`, `high RESTORE_ERROR: ${kept.replace('\r\n', '\n')}`],
    ]);
  });
});
