import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderReadme } from '../../scripts/docs.js';
import { RULES } from '../../src/report/findings.js';

const readme = fs.readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('README', () => {
  it('its tables are what npm run docs generates from the specs and the rule catalog', () => {
    expect(readme).toBe(renderReadme(readme));
  });
  it('documents every rule', () => {
    for (const rule of Object.keys(RULES)) expect(readme).toContain(`| \`${rule}\` |`);
  });
  it('its quick start is exactly two commands, and CI runs the test command', () => {
    const quick = /## Quick start[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    const commands = quick.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
    expect(commands).toHaveLength(2);
    const testCommand = (commands[1] as string).split('#')[0]?.trim() as string;
    expect(fs.readFileSync(new URL('../../.ci/run', import.meta.url), 'utf8')).toContain(
      `\n${testCommand}\n`,
    );
  });
});
