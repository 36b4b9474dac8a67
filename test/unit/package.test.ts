import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8'));

/** The lowest Node major an `engines.node` range accepts (`>=20`, `>= 20.19`, `^20.0.0 || >=22`). */
const lowestMajor = (range: string) =>
  Math.min(...range.split('||').map((r) => Number(/(\d+)/.exec(r)?.[1] ?? Number.POSITIVE_INFINITY)));

describe('package.json', () => {
  it("no package the CLI installs wants a newer Node than the CLI's engines (npm ci warns EBADENGINE)", () => {
    const ours = lowestMajor(pkg.engines.node);
    expect(ours).toBe(20);
    const tooNew = Object.entries(
      lock.packages as Record<string, { dev?: boolean; engines?: { node?: string } }>,
    )
      .filter(([name, p]) => name && !p.dev && p.engines?.node && lowestMajor(p.engines.node) > ours)
      .map(([name, p]) => `${name} wants node ${p.engines?.node}`);
    expect(tooNew).toEqual([]);
  });

  it('depends on what it imports: @actions/github and its plugins, not @actions/exec', () => {
    expect(Object.keys(pkg.dependencies)).toEqual(
      expect.arrayContaining(['@actions/github', '@octokit/plugin-retry', '@octokit/plugin-throttling']),
    );
    expect(pkg.dependencies['@actions/exec']).toBeUndefined();
  });
});
